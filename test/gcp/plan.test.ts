import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { isZonelabError } from '../../src/errors.js';
import {
  COMMAND_TIMEOUT_SEC,
  commandsOf,
  downCommand,
  failoverCommand,
  faultCommands,
  type GcpDeployment,
  parseBackendHealth,
  planGcp,
  renderPlanScript,
  renderStartupScript,
  OPS_AGENT_CONFIG,
  OPS_AGENT_UNIT_PATTERN,
  REMOTE_READY_TIMEOUT_SEC,
  renderUnit,
  VM_NODE_VERSION,
  validateDeployment,
} from '../../src/gcp/index.js';
import { resolveSpec } from '../../src/lb/index.js';
import { createLogger } from '../../src/log.js';
import { testDeployment } from '../helpers/gcp-deployment.js';
import { goldenDir, matchesGolden } from '../helpers/golden.js';
import { CLI_PATH } from '../helpers/paths.js';

const GOLDEN = goldenDir('gcp');

function hasProgram(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`]).status === 0;
}

describe('gcp plan', () => {
  for (const lb of ['backend-service', 'target-pool'] as const) {
    for (const profile of ['gcp-default', 'fast'] as const) {
      it(`matches the golden script for ${lb} × ${profile}`, async () => {
        const script = renderPlanScript(planGcp(validateDeployment(testDeployment(lb, profile))));
        await matchesGolden(GOLDEN, `${lb}-${profile}.sh`, script);
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

  it('opens the app port to everyone, and to exactly the health-check ranges documented for network load balancers', () => {
    for (const lb of ['backend-service', 'target-pool'] as const) {
      const plan = planGcp(testDeployment(lb, 'gcp-default'));
      const app = plan.steps.find((step) => step.title === 'firewall rule zonelab-allow-app')!;
      const checks = plan.steps.find((step) => step.title === 'firewall rule zonelab-allow-health-checks')!;
      assert.ok(app.run.args.includes('--source-ranges=0.0.0.0/0') && app.run.args.includes('--rules=tcp:8080'));
      // 130.211.0.0/22 probes proxy and internal load balancers only.
      assert.ok(checks.run.args.includes('--source-ranges=35.191.0.0/16,209.85.152.0/22,209.85.204.0/22'), `${lb}: ${checks.run.args.join(' ')}`);
    }
  });

  it('admits ssh only through IAP by default (its range, its API, --tunnel-through-iap), or only from the range --ssh-from names', () => {
    const viaIap = testDeployment('backend-service', 'gcp-default');
    const plan = planGcp(viaIap);
    const ssh = plan.steps.find((step) => step.title === 'firewall rule zonelab-allow-ssh')!;
    assert.ok(ssh.run.args.includes('--source-ranges=35.235.240.0/20'), ssh.run.args.join(' '));
    assert.ok(plan.steps[0]!.run.args.includes('iap.googleapis.com'));
    assert.match(faultCommands(viaIap, 'us-east1-b').kill, / --tunnel-through-iap /);
    assert.match(renderPlanScript(plan), /roles\/iap\.tunnelResourceAccessor/);

    const fromCidr = testDeployment('backend-service', 'gcp-default', { sshFrom: '203.0.113.0/24' });
    const cidrPlan = planGcp(validateDeployment(fromCidr));
    assert.ok(cidrPlan.steps.find((step) => step.title === 'firewall rule zonelab-allow-ssh')!.run.args.includes('--source-ranges=203.0.113.0/24'));
    assert.ok(!cidrPlan.steps[0]!.run.args.includes('iap.googleapis.com'));
    assert.doesNotMatch(faultCommands(fromCidr, 'us-east1-b').kill, /tunnel-through-iap/);
    for (const sshFrom of ['0.0.0.0/33', 'everyone', '10.0.0.1']) {
      assert.throws(() => validateDeployment(testDeployment('backend-service', 'fast', { sshFrom })), /--ssh-from/, sshFrom);
    }
  });

  it('enables the Cloud Monitoring API the Ops Agent writes metrics to', () => {
    assert.ok(planGcp(testDeployment('target-pool', 'fast')).steps[0]!.run.args.includes('monitoring.googleapis.com'));
  });

  it('grants storage and Pub/Sub roles on the bucket, topic and subscription only; only logging and monitoring on the project', () => {
    const d = testDeployment('backend-service', 'gcp-default');
    const grants = planGcp(d)
      .steps.filter((step) => step.run.args.includes('add-iam-policy-binding'))
      .flatMap((step) => commandsOf(step).map((command) => `${command.args.slice(0, command.args.indexOf('add-iam-policy-binding') + 2).join(' ')} ${command.args.find((a) => a.startsWith('--role='))}`));
    assert.deepEqual(grants, [
      'projects add-iam-policy-binding zonelab-demo-1 --role=roles/logging.logWriter',
      'projects add-iam-policy-binding zonelab-demo-1 --role=roles/monitoring.metricWriter',
      'storage buckets add-iam-policy-binding gs://zonelab-demo-1-zonelab --role=roles/storage.objectViewer',
      'pubsub topics add-iam-policy-binding zonelab-forbidden --role=roles/pubsub.publisher',
      'pubsub topics add-iam-policy-binding zonelab-forbidden --role=roles/pubsub.viewer',
      'pubsub subscriptions add-iam-policy-binding zonelab-audit --role=roles/pubsub.subscriber',
      'pubsub subscriptions add-iam-policy-binding zonelab-audit --role=roles/pubsub.viewer',
    ]);
    // Each grant comes after its resource is created.
    const titles = planGcp(d).steps.map((step) => step.title);
    for (const [resource, grant] of [['bucket gs://', 'on gs://'], ['Pub/Sub topic', 'on topic'], ['Pub/Sub subscription', 'on subscription']] as const) {
      assert.ok(titles.findIndex((t) => t.startsWith(resource)) < titles.findIndex((t) => t.includes(grant)), resource);
    }
  });

  it('the script opens with what it creates, the cost and the down line, defines the retry once and grants in loops', () => {
    const script = renderPlanScript(planGcp(testDeployment('backend-service', 'gcp-default')));
    const head = script.slice(0, script.indexOf('cat > '));
    assert.match(head, /^# zonelab on Google Cloud: project zonelab-demo-1, region us-east1, zones us-east1-b, us-east1-c; 30 steps\.$/m);
    assert.match(head, /^# creates: 3 e2-micro VMs \(zonelab-us-east1-b, zonelab-us-east1-c, zonelab-audit\)/m);
    assert.match(head, /^# costs: about \$0\.074 per hour while it exists/m);
    assert.match(head, /^# delete it: zonelab gcp down --project zonelab-demo-1 \(the bucket stays unless --delete-bucket\)$/m);
    assert.equal(script.match(/^retry\(\) \{/gm)?.length, 1);
    assert.match(script, /^for role in roles\/logging\.logWriter roles\/monitoring\.metricWriter; do\n {2}retry gcloud projects add-iam-policy-binding zonelab-demo-1 \\\n(.*\n)*? +--role="\$role" \\\n/m);
    assert.match(script, /^retry gcloud storage buckets add-iam-policy-binding gs:\/\/zonelab-demo-1-zonelab \\\n(.*\n)*? +--role=roles\/storage\.objectViewer \\\n/m);
    assert.doesNotMatch(script, /for attempt in 1 2 3 4 5 6; do\n/);
  });

  it('names in down exactly the flags that find the deployment again', () => {
    assert.equal(downCommand(testDeployment('backend-service', 'fast')), 'zonelab gcp down --project zonelab-demo-1');
    assert.equal(
      downCommand(testDeployment('target-pool', 'fast', { region: 'europe-west1', zones: ['europe-west1-c', 'europe-west1-d'], namePrefix: 'zl2', bucket: 'my-pages' })),
      'zonelab gcp down --project zonelab-demo-1 --region europe-west1 --zones europe-west1-c,europe-west1-d --name-prefix zl2 --lb target-pool --bucket gs://my-pages',
    );
  });

  it("lets the restart command run longer on this machine than it waits on the VM", () => {
    const { restart } = faultCommands(testDeployment('backend-service', 'gcp-default'), 'us-east1-c');
    const remote = Number(/timeout (\d+) sh -c/.exec(restart)?.[1]);
    assert.equal(remote, REMOTE_READY_TIMEOUT_SEC);
    const command = failoverCommand(testDeployment('backend-service', 'gcp-default'), { url: 'http://203.0.113.7:8080' });
    const local = Number(/--command-timeout (\d+)s/.exec(command)?.[1]);
    assert.ok(local >= remote + 30, `local ${local} s, remote ${remote} s`);
    assert.equal(local, COMMAND_TIMEOUT_SEC);
  });

  it('deploys the Node.js CI tests on: .ci/run runs the suites on VM_NODE_VERSION, and the VMs build no native addon', async () => {
    const root = join(GOLDEN, '..', '..', '..');
    const script = join(root, 'scripts', 'node-release.sh');
    assert.equal(execFileSync(script, ['--version', 'vm'], { encoding: 'utf8' }).trim(), VM_NODE_VERSION);
    assert.match(VM_NODE_VERSION, /^24\./);
    const ci = await readFile(join(root, '.ci', 'run'), 'utf8');
    assert.match(ci, /node_vm=\$\(scripts\/node-release\.sh vm\)/);
    assert.match(ci, /^ *suite "npm test, Node\.js \$\("\$node_vm\/bin\/node" --version\)" with_node "\$node_vm" node scripts\/run-tests\.mjs$/m);
    const startup = renderStartupScript(testDeployment('backend-service', 'gcp-default'), 'serve');
    assert.match(startup, new RegExp(`^NODE_VERSION='${VM_NODE_VERSION}'$`, 'm'));
    // Node.js 24 has node:sqlite: the optional better-sqlite3 (and any compile) is left out.
    assert.match(startup, /npm ci --omit=dev --omit=optional /);
    assert.doesNotMatch(startup, /npm_config_target|ADDON_HEADERS/);
  });

  it('docs/gcp.md gives the step counts of both load-balancer kinds', async () => {
    const docs = await readFile(join(GOLDEN, '..', '..', '..', 'docs', 'gcp.md'), 'utf8');
    for (const lb of ['backend-service', 'target-pool'] as const) {
      const steps = planGcp(testDeployment(lb, 'gcp-default')).steps.length;
      assert.match(docs, new RegExp(`\\[n/${steps}\\]`), `${lb}: ${steps} steps`);
    }
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

  it('names the zero-error features a network load balancer lacks', () => {
    const d = testDeployment('backend-service', 'zero-error');
    const script = renderPlanScript(planGcp(d));
    assert.match(script, /not available on a network load balancer.*retries 3, redispatch, passive error observation/);
  });

  it('prints the failover command with kill and restart over ssh, and bounds from the spec', () => {
    const command = failoverCommand(testDeployment('backend-service', 'gcp-default'), { url: 'http://203.0.113.7:8080' });
    assert.match(command, /^zonelab failover --target http:\/\/203\.0\.113\.7:8080/);
    assert.match(command, /--fault-zone us-east1-b --bucket-name zonelab-demo-1-zonelab/);
    assert.match(command, /--check-interval 5 --check-timeout 5 --healthy-threshold 2 --unhealthy-threshold 2/);
    assert.match(command, /gcloud compute ssh zonelab-us-east1-b --zone=us-east1-b .*systemctl kill --signal=SIGKILL zonelab-serve\.service/);
    assert.match(command, /systemctl start zonelab-serve\.service && timeout 120 sh -c/);
    // The printed command is valid shell: bash parses it.
    assert.equal(spawnSync('bash', ['-n', '-c', command]).status, 0);
  });

  it("sends the units' output to the journal, where the Ops Agent's journald receiver reads it, severity and time included", () => {
    const d = testDeployment('backend-service', 'gcp-default');
    for (const role of ['serve', 'audit'] as const) {
      const unit = renderUnit(d, role);
      assert.match(unit, /^StandardOutput=journal$/m, role);
      // LogsDirectory= with StandardOutput=append: fails with 209/STDOUT under DynamicUser on systemd 252.
      assert.doesNotMatch(unit, /LogsDirectory|append:|\/var\/log/, role);
      assert.match(unit, /^LogRateLimitIntervalSec=0$/m, role);
      assert.ok(new RegExp(OPS_AGENT_UNIT_PATTERN).test(`zonelab-${role}.service`), role);
      assert.ok(renderStartupScript(d, role).includes(OPS_AGENT_CONFIG.trimEnd()), role);
    }
    assert.doesNotMatch(renderStartupScript(d, 'serve'), /logrotate|npm_config_allow_scripts/);
    for (const line of ['type: systemd_journald', 'type: parse_json', 'field: MESSAGE', 'time_key: time', 'move_from: jsonPayload.severity']) {
      assert.ok(OPS_AGENT_CONFIG.includes(line), line);
    }
    // The logger writes what the agent config expects: Cloud Logging's severity names, and a
    // time that "%Y-%m-%dT%H:%M:%S.%L%z" parses (milliseconds, Z).
    const lines: string[] = [];
    const logger = createLogger({ destination: { write: (line: string) => void lines.push(line) } });
    logger.warn('a warning');
    const entry = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(entry.severity, 'WARNING');
    assert.match(String(entry.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(entry.message, 'a warning');
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
