import type { Lab } from '../../lab/index.js';
import { checkNetworkFaultsPossible } from '../../lab/index.js';
import type { Fault } from '../../records/index.js';
import type { FaultInjector } from './injector.js';

/** partition, reset: nftables rules on the zone's addresses, in the lab's own table. */
export function networkInjector(lab: Lab, zone: string, fault: Extract<Fault, { kind: 'partition' | 'reset' }>): FaultInjector {
  return {
    label: `${fault.kind} ${zone}`,
    check: checkNetworkFaultsPossible,
    inject: async (now) => {
      // In force from the moment nft committed the rules.
      let at: number | null = null;
      await lab.fault(zone, fault, { onInjected: () => (at ??= now()) });
      return at ?? now();
    },
    heal: async () => {
      await lab.heal(zone);
      return 'rules removed, answers its health check';
    },
  };
}
