import { join } from 'node:path';
import type { ExperimentOptions } from '../../src/failover/index.js';
import type { LoadBalancerSpec } from '../../src/lb/index.js';
import { parseFault } from '../../src/records/index.js';

/**
 * The failover benchmarks' one experiment: two zones on a local lab, a fault on
 * us-east1-b, new connections at `rate`, a 3 s warm-up and hold (load runs before the fault
 * every time), pages from `<dir>/bucket`.
 */
export function benchExperiment(options: { dir: string; spec: LoadBalancerSpec; listenPort: number; fault: string; rate: number; outDir: string; command: string; signal: AbortSignal }): ExperimentOptions {
  return {
    lab: { zones: ['us-east1-b', 'us-east1-c'], instancesPerZone: 1, spec: options.spec, listenHost: '127.0.0.1', listenPort: options.listenPort, bucket: join(options.dir, 'bucket') },
    pages: { webdir: 'webdir', index: 1000 },
    fault: parseFault(options.fault),
    faultZone: 'us-east1-b',
    rate: options.rate,
    keepalive: false,
    warmupMs: 3000,
    holdMs: 3000,
    maxWaitMs: 60_000,
    outDir: options.outDir,
    command: options.command,
    signal: options.signal,
  };
}
