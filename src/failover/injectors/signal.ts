import type { Lab } from '../../lab/index.js';
import type { Fault } from '../../records/index.js';
import type { FaultInjector } from './injector.js';

/** kill, term, stop: a signal to the zone's server processes; healed by starting (or continuing) them. */
export function signalInjector(lab: Lab, zone: string, fault: Extract<Fault, { kind: 'kill' | 'term' | 'stop' }>): FaultInjector {
  return {
    label: `${fault.kind} ${zone}`,
    check: () => {},
    inject: async (now) => {
      // The signal is the fault: it counts from the moment it is sent, not from when a
      // draining (term) server has finished exiting.
      let at: number | null = null;
      await lab.fault(zone, fault, { onInjected: () => (at ??= now()) });
      return at ?? now();
    },
    heal: async () => {
      await lab.heal(zone);
      return 'started again, answers its health check';
    },
  };
}
