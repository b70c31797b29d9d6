import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { isZonelabError } from '../../src/errors.js';
import {
  failoverCommand,
  type GcpDeployment,
  parseBackendHealth,
  planGcp,
  renderPlanScript,
  renderStartupScript,
  renderUnit,
  validateDeployment,
} from '../../src/gcp/index.js';
import { resolveSpec } from '../../src/lb/index.js';
import { testDeployment } from '../helpers/gcp-deployment.js';
import { CLI_PATH } from '../helpers/paths.js';

const GOLDEN = fileURLToPath(new URL('../../../test/gcp/golden/', import.meta.url));

function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

describe('gcp plan', () => {
  for (const lb of ['backend-service', 'target-pool'] as const) {
    for (const profile of ['gcp-default', 'fast'] as const) {
      it(`matches the golden script for ${lb} × ${profile}`, async () => {
        const script = renderPlanScript(planGcp(validateDeployment(testDeployment(lb, profile))));
        const file = join(GOLDEN, `${lb}-${profile}.sh`);
        if (process.env.UPDATE_GOLDEN) await writeFile(file, script);
        assert.equal(script, await readFile(file, 'utf8'));
      });
    }
  }

  it("carries the spec's health-check values into the gcloud flags of both load-balancer kinds", () => {
    for (const lb of ['backend-service', 'target-pool'] as const) {
      const spec = resolveSpec('fast', { checkIntervalSec: 3, timeoutSec: 2, healthyThreshold: 4, unhealthyThreshold: 5, requestPath: '/ready' });
      const plan = planGcp(validateDeployment(testDeployment(lb, 'fast', { spec })));
      const check = plan.steps.find((step) => step.run.args.includes('health-checks') || step.run.args.includes('http-health-checks'));
      assert.ok(check, lb);
      for (const flag of ['--check-interval=3s', '--timeout=2s', '--healthy-threshold=4', '--unhealthy-threshold=5', '--request-path=/ready', '--port=8080']) {
        assert.ok(check.run.args.includes(flag), `${lb}: ${flag} in ${check.run.args.join(' ')}`);
      }
    }
  });

  it('orders the plan: APIs, bucket, package, Pub/Sub, firewall, IP, VMs, health check, load balancer, forwarding rule', () => {
    const titles = planGcp(testDeployment('backend-service', 'gcp-default')).steps.map((step) => step.title);
    const at = (text: string) => titles.findIndex((title) => title.includes(text));
    const order = ['enable', 'bucket gs://', 'pack zonelab', 'upload the package', 'Pub/Sub topic', 'Pub/Sub subscription', 'firewall rule', 'static regional IP', 'VM zonelab-us-east1-b', 'VM zonelab-audit', 'health check', 'instance group', 'backend service', 'forwarding rule'];
    const positions = order.map(at);
    assert.ok(positions.every((position) => position >= 0), JSON.stringify(titles));
    assert.deepEqual([...positions].sort((a, b) => a - b), positions, JSON.stringify(titles));
    assert.equal(titles.at(-1), 'forwarding rule zonelab-fr');
  });

  it('opens the app port to everyone and to every health-check range', () => {
    const plan = planGcp(testDeployment('backend-service', 'gcp-default'));
    const app = plan.steps.find((step) => step.title === 'firewall rule zonelab-allow-app')!;
    const checks = plan.steps.find((step) => step.title === 'firewall rule zonelab-allow-health-checks')!;
    assert.ok(app.run.args.includes('--source-ranges=0.0.0.0/0') && app.run.args.includes('--rules=tcp:8080'));
    assert.ok(checks.run.args.includes('--source-ranges=35.191.0.0/16,209.85.152.0/22,209.85.204.0/22,130.211.0.0/22'));
  });

  it("rejects what Google Cloud or a network load balancer does not accept, naming the flag", () => {
    const cases: [Partial<GcpDeployment>, RegExp][] = [
      [{ project: 'X' }, /--project/],
      [{ zones: ['us-east1-b'] }, /--zones needs at least two/],
      [{ zones: ['us-east1-b', 'europe-west1-c'] }, /--zones "europe-west1-c" is not a zone of us-east1/],
      [{ zones: ['us-east1-b', 'us-east1-b'] }, /twice/],
      [{ bucket: 'Bad_Bucket' }, /--bucket/],
      [{ namePrefix: 'Zonelab' }, /--name-prefix/],
      [{ spec: { ...resolveSpec('fast'), mode: 'http' } }, /--mode http needs a proxy/],
      [{ spec: { ...resolveSpec('fast'), balance: 'leastconn' } }, /--balance leastconn/],
    ];
    for (const [overrides, message] of cases) {
      assert.throws(() => validateDeployment(testDeployment('backend-service', 'fast', overrides)), (error) => isZonelabError(error) && message.test(error.message), JSON.stringify(overrides));
    }
  });

  it('names the zero-error features a network load balancer lacks, and keeps its drain', () => {
    const d = testDeployment('backend-service', 'zero-error');
    const script = renderPlanScript(planGcp(d));
    assert.match(script, /not available on a network load balancer.*retries 3, redispatch, passive error observation/);
    assert.match(renderUnit(d, 'serve'), /--drain-seconds 4/);
  });

  it('prints the failover command with kill and restart over ssh, and bounds from the spec', () => {
    const command = failoverCommand(testDeployment('backend-service', 'gcp-default'), '203.0.113.7');
    assert.match(command, /^zonelab failover --target http:\/\/203\.0\.113\.7:8080/);
    assert.match(command, /--fault-zone us-east1-b --bucket-name zonelab-demo-1-zonelab/);
    assert.match(command, /--check-interval 5 --timeout 5 --healthy-threshold 2 --unhealthy-threshold 2/);
    assert.match(command, /gcloud compute ssh zonelab-us-east1-b --zone=us-east1-b .*systemctl kill --signal=SIGKILL zonelab-serve\.service/);
    assert.match(command, /systemctl start zonelab-serve\.service && timeout 120 sh -c/);
    // The printed command is valid shell: bash parses it.
    assert.equal(spawnSync('bash', ['-n', '-c', command]).status, 0);
  });

  it('never restarts the zone server from systemd, so a kill lasts until the restart command', () => {
    const unit = renderUnit(testDeployment('backend-service', 'gcp-default'), 'serve');
    assert.match(unit, /^Restart=no$/m);
    assert.doesNotMatch(unit, /Restart=(always|on-failure|on-abnormal)/);
    assert.match(renderUnit(testDeployment('backend-service', 'gcp-default'), 'audit'), /^Restart=on-failure$/m);
  });

  it('writes shell that bash parses and shellcheck accepts: the plan and both startup scripts', { skip: !hasProgram('shellcheck') && 'shellcheck is not installed' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zonelab-gcp-sh-'));
    try {
      for (const lb of ['backend-service', 'target-pool'] as const) {
        const d = testDeployment(lb, 'zero-error');
        const files = { [`plan-${lb}.sh`]: renderPlanScript(planGcp(d)), 'serve.sh': renderStartupScript(d, 'serve'), 'audit.sh': renderStartupScript(d, 'audit') };
        for (const [name, content] of Object.entries(files)) {
          const path = join(dir, name);
          await writeFile(path, content);
          assert.equal(spawnSync('bash', ['-n', path]).status, 0, `bash -n ${name}`);
          const check = spawnSync('shellcheck', [path], { encoding: 'utf8' });
          assert.equal(check.status, 0, `shellcheck ${name}:\n${check.stdout}`);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('writes systemd units that systemd-analyze verify accepts', { skip: !hasProgram('systemd-analyze') && 'systemd-analyze is not installed' }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zonelab-gcp-unit-'));
    try {
      for (const role of ['serve', 'audit'] as const) {
        // verify checks that ExecStart's program exists: point it at a real executable here.
        const path = join(dir, `zonelab-${role}.service`);
        await writeFile(path, renderUnit(testDeployment('backend-service', 'gcp-default'), role, { zonelabBin: process.execPath }));
        const result = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
        const ours = result.stderr.split('\n').filter((line) => line.includes(`zonelab-${role}`));
        assert.equal(result.status, 0, result.stderr);
        assert.deepEqual(ours, [], result.stderr);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads backend health from both get-health shapes', () => {
    const backendService = JSON.stringify([
      {
        backend: 'https://www.googleapis.com/compute/v1/projects/p/zones/us-east1-b/instanceGroups/zonelab-ig-us-east1-b',
        status: { healthStatus: [{ healthState: 'HEALTHY', instance: 'https://www.googleapis.com/compute/v1/projects/p/zones/us-east1-b/instances/zonelab-us-east1-b', ipAddress: '10.0.0.2', port: 8080 }], kind: 'compute#backendServiceGroupHealth' },
      },
      { backend: 'https://www.googleapis.com/compute/v1/projects/p/zones/us-east1-c/instanceGroups/zonelab-ig-us-east1-c', status: { healthStatus: [{ instance: 'https://x/instances/zonelab-us-east1-c', ipAddress: '10.0.0.3' }] } },
    ]);
    assert.deepEqual(parseBackendHealth(backendService), [
      { instance: 'zonelab-us-east1-b', state: 'HEALTHY' },
      { instance: 'zonelab-us-east1-c', state: 'UNKNOWN' },
    ]);
    const targetPool = JSON.stringify([{ status: { healthStatus: [{ healthState: 'UNHEALTHY', instance: 'https://x/zones/us-east1-c/instances/zonelab-us-east1-c', ipAddress: '34.1.2.3' }], kind: 'compute#targetPoolInstanceHealth' } }]);
    assert.deepEqual(parseBackendHealth(targetPool), [{ instance: 'zonelab-us-east1-c', state: 'UNHEALTHY' }]);
    assert.deepEqual(parseBackendHealth(''), []);
    assert.throws(() => parseBackendHealth('not json'));
  });

  it('zonelab gcp plan prints the script; a bad value is one line and exit 1', () => {
    const script = execFileSync(process.execPath, [CLI_PATH, 'gcp', 'plan', '--project', 'zonelab-demo-1', '--lb', 'target-pool', '--profile', 'fast'], { encoding: 'utf8' });
    assert.match(script, /^#!\/bin\/bash\n/);
    assert.match(script, /gcloud compute target-pools create zonelab-pool/);
    assert.match(script, /--check-interval=1s/);
    const bad = spawnSync(process.execPath, [CLI_PATH, 'gcp', 'plan', '--project', 'zonelab-demo-1', '--check-interval', '400'], { encoding: 'utf8' });
    assert.equal(bad.status, 1);
    assert.equal(bad.stdout, '');
    assert.match(bad.stderr, /^zonelab: checkIntervalSec \(--check-interval\) must be an integer from 1 to 300, got 400\n$/);
    const missing = spawnSync(process.execPath, [CLI_PATH, 'gcp', 'plan'], { encoding: 'utf8' });
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /required option '--project <id>' not specified/);
  });
});
