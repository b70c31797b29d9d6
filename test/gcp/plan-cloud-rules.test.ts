import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { type CommandRunner, failoverCommand, type GcpDeployment, type PlanCommand, planGcp, renderPlanScript, renderUnit, runPlan, validateDeployment } from '../../src/gcp/index.js';
import { GCP_APPLY_DELAY_SEC } from '../../src/lb/index.js';
import { GRANT_RETRY_DELAYS_MS } from '../../src/gcp/plan.js';
import { testDeployment } from '../helpers/gcp-deployment.js';

interface FirewallRule {
  name: string;
  action: 'ALLOW' | 'DENY';
  priority: number;
  port: string;
  sources: string[];
  /** Tags the rule applies to; null: every VM of the network. */
  tags: string[] | null;
}

/** The firewall rules a plan creates, read back from its gcloud arguments. */
function planRules(deployment: GcpDeployment): FirewallRule[] {
  return planGcp(deployment)
    .steps.filter((step) => step.run.args.slice(0, 3).join(' ') === 'compute firewall-rules create')
    .map((step) => {
      const flag = (name: string) => step.run.args.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
      return {
        name: step.run.args[3]!,
        action: flag('action') as 'ALLOW' | 'DENY',
        // gcloud: "When NOT specified, the value assumed is 1000."
        priority: Number(flag('priority') ?? 1000),
        port: flag('rules')!,
        sources: flag('source-ranges')!.split(','),
        tags: flag('target-tags')!.split(','),
      };
    });
}

/**
 * The rules the `default` network comes with, which apply to every VM in it
 * (https://cloud.google.com/vpc/docs/firewalls, "Pre-populated rules in the default network"),
 * and the implied deny of all ingress at the lowest precedence.
 */
const DEFAULT_NETWORK: FirewallRule[] = [
  { name: 'default-allow-internal', action: 'ALLOW', priority: 65534, port: 'tcp:0-65535', sources: ['10.128.0.0/9'], tags: null },
  { name: 'default-allow-ssh', action: 'ALLOW', priority: 65534, port: 'tcp:22', sources: ['0.0.0.0/0'], tags: null },
  { name: 'default-allow-rdp', action: 'ALLOW', priority: 65534, port: 'tcp:3389', sources: ['0.0.0.0/0'], tags: null },
  { name: 'implied-deny-ingress', action: 'DENY', priority: 65535, port: 'tcp:0-65535', sources: ['0.0.0.0/0'], tags: null },
];

function inRange(address: string, cidr: string): boolean {
  const toNumber = (ip: string) => ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
  const [base, bits] = cidr.split('/') as [string, string];
  const size = 2 ** (32 - Number(bits));
  return Math.floor(toNumber(address) / size) === Math.floor(toNumber(base) / size);
}

function portMatches(rule: string, port: number): boolean {
  const [, range] = rule.split(':') as [string, string];
  const [low, high = low] = range.split('-').map(Number) as [number, number?];
  return port >= low && port <= high!;
}

/**
 * Google's evaluation of ingress rules: of the rules that match, the highest precedence
 * (lowest priority number) decides, and at equal priority a deny beats an allow (gcloud's
 * --priority help: "DENY rules take precedence over ALLOW rules having equal priority").
 */
function decide(rules: FirewallRule[], from: string, port: number, tag: string): FirewallRule {
  const matching = rules.filter((rule) => portMatches(rule.port, port) && rule.sources.some((cidr) => inRange(from, cidr)) && (rule.tags === null || rule.tags.includes(tag)));
  return matching.sort((a, b) => a.priority - b.priority || (a.action === 'DENY' ? -1 : 1) - (b.action === 'DENY' ? -1 : 1))[0]!;
}

describe('what the plan asks of Google Cloud, evaluated as Google documents it (pure; no Google Cloud here)', () => {
  it("closes ssh to the internet on the default network, whose default-allow-ssh opens it, and admits IAP's range only", () => {
    const rules = [...planRules(testDeployment('backend-service', 'gcp-default')), ...DEFAULT_NETWORK];
    for (const tag of ['zonelab-server', 'zonelab-audit']) {
      assert.equal(decide(rules, '203.0.113.9', 22, tag).name, 'zonelab-deny-ssh', tag);
      assert.equal(decide(rules, '203.0.113.9', 22, tag).action, 'DENY');
      assert.equal(decide(rules, '35.235.241.7', 22, tag).action, 'ALLOW', `IAP reaches ${tag}`);
    }
    // The app port stays open to clients, and the health-check probers reach it.
    assert.equal(decide(rules, '203.0.113.9', 8080, 'zonelab-server').action, 'ALLOW');
    assert.equal(decide(rules, '35.191.3.4', 8080, 'zonelab-server').action, 'ALLOW');
    // Without the deny, the default rule would have let anyone in.
    const withoutDeny = rules.filter((rule) => rule.name !== 'zonelab-deny-ssh');
    assert.equal(decide(withoutDeny, '203.0.113.9', 22, 'zonelab-server').name, 'default-allow-ssh');
  });

  it('with --ssh-from a range, admits that range and nobody else', () => {
    const rules = [...planRules(validateDeployment(testDeployment('backend-service', 'gcp-default', { sshFrom: '198.51.100.0/24' }))), ...DEFAULT_NETWORK];
    assert.equal(decide(rules, '198.51.100.20', 22, 'zonelab-server').action, 'ALLOW');
    assert.equal(decide(rules, '203.0.113.9', 22, 'zonelab-server').action, 'DENY');
    assert.equal(decide(rules, '35.235.241.7', 22, 'zonelab-server').action, 'DENY', 'IAP is not admitted when ssh comes from a range');
  });

  it('creates balanced persistent disks, the kind the cost line prices', () => {
    const creates = planGcp(testDeployment('backend-service', 'gcp-default')).steps.filter((step) => step.run.args.slice(0, 3).join(' ') === 'compute instances create');
    assert.equal(creates.length, 3);
    for (const step of creates) assert.ok(step.run.args.includes('--boot-disk-type=pd-balanced'), step.title);
  });

  it('--connection-persistence never drops connections on an unhealthy VM (backend service only); by default nothing is passed', () => {
    const backendService = (deployment: GcpDeployment) =>
      planGcp(deployment).steps.find((step) => step.run.args.slice(0, 3).join(' ') === 'compute backend-services create')!.run.args;
    assert.ok(backendService(testDeployment('backend-service', 'gcp-default', { connectionPersistence: 'never' })).includes('--connection-persistence-on-unhealthy-backends=NEVER_PERSIST'));
    assert.ok(!backendService(testDeployment('backend-service', 'gcp-default')).some((arg) => arg.startsWith('--connection-persistence')));
    assert.throws(() => validateDeployment(testDeployment('target-pool', 'gcp-default', { connectionPersistence: 'never' })), /--connection-persistence never needs --lb backend-service/);
  });
});

describe("the allowance for Google Cloud's apply delay reaches the drain and the printed command", () => {
  it('--apply-delay 5: the servers drain 5 s longer, systemd waits for it, and the failover command states it', () => {
    const deployment = testDeployment('backend-service', 'gcp-default', { applyDelaySec: 5 });
    const unit = renderUnit(deployment, 'serve');
    // 2 × 5 + 5 + 5 + 1, then 10 s more for systemd.
    assert.match(unit, /--drain-seconds 21 /);
    assert.match(unit, /^TimeoutStopSec=31$/m);
    const command = failoverCommand(deployment, { url: 'http://203.0.113.7:8080' });
    assert.match(command, /--check-sees fails-fast --apply-delay 5 /);
    // By default the allowance is the one the reports assume.
    assert.match(failoverCommand(testDeployment('backend-service', 'gcp-default'), { url: 'http://203.0.113.7:8080' }), new RegExp(`--apply-delay ${GCP_APPLY_DELAY_SEC} `));
  });
});

describe('grants that IAM does not know yet are tried again for 90 s', () => {
  it('the waits add up to at least 90 s (a new service account may need 60 s or more)', () => {
    assert.ok(GRANT_RETRY_DELAYS_MS.reduce((sum, ms) => sum + ms, 0) >= 90_000);
  });

  it("up tries a refused grant again and goes on once it passes (an in-process stand-in for gcloud's answers)", async () => {
    const work = await mkdtemp(join(tmpdir(), 'zonelab-grants-'));
    try {
      const refusals = new Map<string, number>();
      const runner: CommandRunner = {
        run: async (command: PlanCommand) => {
          if (command.args.includes('describe')) return { code: 1, stdout: '', stderr: 'ERROR: (gcloud) NOT_FOUND: not found' };
          if (!command.args.some((arg) => arg === 'add-iam-policy-binding')) return { code: 0, stdout: '', stderr: '' };
          const key = command.args.join(' ');
          const seen = refusals.get(key) ?? 0;
          refusals.set(key, seen + 1);
          return seen < 3 ? { code: 1, stdout: '', stderr: 'ERROR: (gcloud.projects.add-iam-policy-binding) INVALID_ARGUMENT: Service account zonelab-vms@zonelab-demo-1.iam.gserviceaccount.com does not exist.' } : { code: 0, stdout: '', stderr: '' };
        },
      };
      const plan = planGcp(testDeployment('backend-service', 'gcp-default'));
      plan.steps = plan.steps.filter((step) => step.run.program === 'gcloud');
      const lines: string[] = [];
      await runPlan(plan, { runner, onLine: (line) => lines.push(line), workDir: work, healthWaitMs: 0, retryDelaysMs: [1, 1, 1, 1, 1, 1] });
      const retried = lines.filter((line) => line.includes('trying again'));
      assert.ok(retried.length >= 3, lines.join('\n'));
      assert.match(retried[0]!, /grant .*: failed \(ERROR: \(gcloud\.projects\.add-iam-policy-binding\) INVALID_ARGUMENT: Service account .* does not exist\.\); trying again in 0\.001 s \(try 2 of 7\)$/);
      assert.ok([...refusals.values()].every((count) => count === 4), 'each grant passed at its fourth try');

      // One that never passes stops up after its last try, naming the command.
      const never: CommandRunner = { run: async (command) => (command.args.includes('add-iam-policy-binding') ? { code: 1, stdout: '', stderr: 'ERROR: refused' } : runner.run(command)) };
      await assert.rejects(runPlan(plan, { runner: never, onLine: () => {}, workDir: work, healthWaitMs: 0, retryDelaysMs: [1, 1] }), /step 3\/\d+ \(grant .*\) failed: gcloud projects add-iam-policy-binding/);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  it("the plan script's retry (real bash) waits 5, 10, 15, 20, 20, 20 s between tries and gives up after the seventh", () => {
    const script = renderPlanScript(planGcp(testDeployment('backend-service', 'gcp-default')));
    const retry = script.split('\n').find((line) => line.startsWith('retry() {'))!;
    // sleep is recorded, not slept; the command fails until its fourth try.
    const run = (failures: number) =>
      spawnSync('bash', ['-c', `${retry}\nsleep() { echo "slept $1"; }\ntries=0\nflaky() { tries=$((tries + 1)); [ "$tries" -gt ${failures} ]; }\nretry flaky; echo "status $? after $tries tries"`], { encoding: 'utf8' });
    const passes = run(3);
    assert.equal(passes.stdout, 'slept 5\nslept 10\nslept 15\nstatus 0 after 4 tries\n');
    const fails = run(100);
    assert.equal(fails.stdout, 'slept 5\nslept 10\nslept 15\nslept 20\nslept 20\nslept 20\nstatus 1 after 7 tries\n');
    assert.equal(fails.stderr.split('\n').filter((line) => line.startsWith('failed; trying again')).length, 6);
  });
});
