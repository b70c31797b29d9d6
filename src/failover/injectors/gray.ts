import type { Lab } from '../../lab/index.js';
import { formatFault } from '../../records/index.js';
import type { GrayFault } from '../../server/index.js';
import type { FaultInjector } from './injector.js';

/** latency, errors, health-fail, flap: set in the servers through their control sockets. */
export function grayInjector(lab: Lab, zone: string, fault: GrayFault): FaultInjector {
  return {
    label: `${formatFault(fault)} ${zone}`,
    check: () => {},
    inject: async (now) => {
      // In force once every server of the zone has acknowledged it.
      let at: number | null = null;
      await lab.fault(zone, fault, { onInjected: () => (at ??= now()) });
      return at ?? now();
    },
    heal: async () => {
      await lab.heal(zone);
      return 'fault cleared, answers its health check';
    },
  };
}
