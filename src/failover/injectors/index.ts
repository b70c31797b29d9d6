import type { Lab } from '../../lab/index.js';
import { type Fault, faultClassOf } from '../../records/index.js';
import { isGrayFault } from '../../server/index.js';
import { commandInjector } from './command.js';
import { grayInjector } from './gray.js';
import type { FaultInjector } from './injector.js';
import { networkInjector } from './network.js';
import { signalInjector } from './signal.js';

export type { FaultInjector } from './injector.js';
export type { CommandFault } from './command.js';

/** The injector for a fault on a lab's zone. */
export function labInjector(lab: Lab, zone: string, fault: Fault): FaultInjector {
  switch (faultClassOf(fault)) {
    case 'signal':
      return signalInjector(lab, zone, fault as Extract<Fault, { kind: 'kill' | 'term' | 'stop' }>);
    case 'network':
      return networkInjector(lab, zone, fault as Extract<Fault, { kind: 'partition' | 'reset' }>);
    case 'gray':
      if (!isGrayFault(fault)) throw new Error(`unexpected fault ${fault.kind}`);
      return grayInjector(lab, zone, fault);
  }
}

export { commandInjector };
