import { type GcpDeployment, type LbKind, VM_NODE_VERSION } from '../../src/gcp/index.js';
import { type ProfileName, resolveSpec } from '../../src/lb/index.js';

/** A valid deployment of two zones in us-east1, with fields overridden by the test. */
export function testDeployment(lb: LbKind, profile: ProfileName, overrides: Partial<GcpDeployment> = {}): GcpDeployment {
  return {
    project: 'zonelab-demo-1',
    region: 'us-east1',
    zones: ['us-east1-b', 'us-east1-c'],
    machineType: 'e2-micro',
    bucket: 'zonelab-demo-1-zonelab',
    pages: 10_000,
    lb,
    network: 'default',
    namePrefix: 'zonelab',
    spec: resolveSpec(profile),
    nodeVersion: VM_NODE_VERSION,
    packageFile: 'zonelab-0.1.0.tgz',
    sshFrom: 'iap',
    ...overrides,
  };
}
