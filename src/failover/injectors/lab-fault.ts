import type { Lab } from '../../lab/index.js';
import { type Fault, faultClassOf, formatFault } from '../../records/index.js';
import type { FaultInjector } from './injector.js';

// How the zone is known to be back, by how the lab put it back.
const HEALED = {
  signal: 'started again, answers its health check',
  network: 'rules removed, answers its health check',
  gray: 'fault cleared, answers its health check',
} as const;

/**
 * Any fault the lab injects itself (`Lab.fault`: a signal, nftables rules, or a gray fault
 * through the control sockets), timed from the moment it takes effect: the first signal
 * sent, the rules committed, every server told; not from when a draining (term) server has
 * finished exiting. Healed by `Lab.heal`, which waits until the zone answers its check.
 */
export function labFaultInjector(lab: Lab, zone: string, fault: Fault): FaultInjector {
  return {
    label: `${formatFault(fault)} ${zone}`,
    inject: async (now) => {
      let at: number | null = null;
      await lab.fault(zone, fault, { onInjected: () => (at ??= now()) });
      return at ?? now();
    },
    heal: async () => {
      await lab.heal(zone);
      return HEALED[faultClassOf(fault)];
    },
  };
}
