import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { FailoverMetrics } from '../../src/failover/index.js';
import { OPS_AGENT_UNIT_PATTERN, VM_NODE_VERSION } from '../../src/gcp/index.js';
import { detectionBoundSec, lbDriver, returnBoundSec } from '../../src/lb/index.js';
import { boxUnavailable } from '../helpers/debian-box.js';
import { httpRequest } from '../helpers/http.js';
import { pollUntil } from '../helpers/wait.js';
import { Rehearsal, ZONES } from '../rehearsal/rehearsal.js';

const unavailable =
  boxUnavailable() ??
  (() => {
    try {
      lbDriver('passthrough').check();
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  })();
const [ZONE_B, ZONE_C] = ZONES;
/** The VMs' roles reach Cloud Storage and Pub/Sub this long after they are first needed, as a fresh grant does. */
const GRANT_DELAY_MS = 10_000;

/**
 * The deployment rehearsed: three VMs in Debian 12 boxes booting the startup script exactly
 * as `zonelab gcp plan` writes it, stand-ins for the metadata server, Cloud Storage, Pub/Sub
 * and the Node.js download site, and the passthrough balancer in front as the network load
 * balancer (nftables forwarding, probers on Google's schedule). What
 * differs from Compute Engine is listed in test/rehearsal/rehearsal.ts and docs/gcp.md.
 */
describe("the cloud deployment rehearsed: VMs in boxes boot the plan's startup script, behind a passthrough balancer probing as Google does", { skip: unavailable ?? false }, () => {
  let work: string;
  let rehearsal: Rehearsal | undefined;
  const started = performance.now();

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'zonelab-rehearsal-'));
    rehearsal = await Rehearsal.start({
      workDir: work,
      grantDelayMs: GRANT_DELAY_MS,
      onLine: (line) => console.error(`# ${((performance.now() - started) / 1000).toFixed(0)} s: ${line}`),
    });
  });
  after(async () => {
    await rehearsal?.close();
    await rm(work, { recursive: true, force: true });
  });

  const serving = () => rehearsal!.vm(ZONE_B);
  async function journal(key: string, unit: string): Promise<{ MESSAGE: string; _SYSTEMD_UNIT?: string }[]> {
    const result = await rehearsal!.vm(key).box.exec(['journalctl', '-b', '-u', unit, '-o', 'json', '--no-pager']);
    return result.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { MESSAGE: string; _SYSTEMD_UNIT?: string });
  }

  it('every VM ran its startup script to the end at boot, as root, its output in the journal', async (t) => {
    for (const key of ['audit', ...ZONES]) {
      const script = await rehearsal!.vm(key).startupScript();
      assert.ok(script.ok, `${key}:\n${script.log}`);
      // Node.js came from the download site, checked against its SHASUMS256.txt.
      assert.match(script.log, new RegExp(`node-v${VM_NODE_VERSION}-linux-x64\\.tar\\.xz: OK`), key);
      assert.match(script.log, /^zonelab: zonelab-(serve|audit)\.service is running$/m, key);
    }
    t.diagnostic(`three VMs booted and ran their startup scripts in ${(rehearsal!.bootMs / 1000).toFixed(0)} s`);
  });

  it('roles that arrive late are waited out: the startup script and the servers were refused at first, and said so', async (t) => {
    const keys = ['audit', ...ZONES];
    const scripts = await Promise.all(keys.map((key) => rehearsal!.vm(key).startupScript()));
    // Every unit came up in the end; what each logged while Pub/Sub refused it is gathered
    // first, so that whichever assertion fails says what every VM saw. A unit is active from
    // the moment its process runs (Type=exec), before it has asked Pub/Sub anything: its
    // start-up line is what says it is past its waits, so the journal is read once that is in.
    const units = [
      { key: 'audit', unit: 'zonelab-audit.service', ready: /"message":"following pubsub:/ },
      ...ZONES.map((key) => ({ key, unit: 'zonelab-serve.service', ready: /"message":"(worker \d+: )?serving / })),
    ];
    const waits: string[] = [];
    const states: string[] = [];
    for (const { key, unit, ready } of units) {
      const entries = await pollUntil(() => journal(key, unit), (found) => found.some((entry) => ready.test(entry.MESSAGE)), 90_000, 250).catch(() => null);
      const state = (await rehearsal!.vm(key).box.exec(['systemctl', 'is-active', unit])).stdout.trim();
      states.push(`${key}: ${state}${entries ? '' : ', no start-up line within 90 s'}`);
      for (const entry of entries ?? (await journal(key, unit))) {
        if (entry.MESSAGE.includes('refused these credentials')) waits.push(`${key}: ${entry.MESSAGE}`);
      }
    }
    const scriptTries = keys.map((key, index) => `${key}: ${scripts[index]!.log.split('\n').filter((line) => line.includes('answered 403')).length}`);
    const seen = [
      `Cloud Storage refused ${rehearsal!.gcs.refusedBeforeGrant} requests, Pub/Sub ${rehearsal!.pubsub.refusedBeforeGrant} calls`,
      `startup scripts refused (per VM) ${scriptTries.join(', ')}`,
      `units: ${states.join(', ')}`,
      ...waits,
      ...scripts.map((script, index) => `${keys[index]}'s script:\n${script.log.split('\n').filter((line) => line.startsWith('zonelab:')).join('\n')}`),
    ].join('\n');
    assert.ok(rehearsal!.gcs.refusedBeforeGrant > 0, `Cloud Storage refused a request before the grant arrived\n${seen}`);
    assert.ok(rehearsal!.pubsub.refusedBeforeGrant > 0, `Pub/Sub refused a call before the grant arrived\n${seen}`);
    assert.ok(
      scripts.some((script) => /^zonelab: .*zonelab\.tgz.* answered 403: the VM's role on the bucket may not have arrived yet; trying again in \d+ s$/m.test(script.log)),
      `a startup script said it was refused\n${seen}`,
    );
    assert.ok(
      states.every((state) => state.endsWith(': active')),
      `every unit active and past its waits\n${seen}`,
    );
    assert.ok(
      waits.some((line) => line.includes('pubsub:')),
      `a unit logged its wait for Pub/Sub\n${seen}`,
    );
    t.diagnostic(`roles arrived ${GRANT_DELAY_MS / 1000} s after first needed: ${seen.split('\n').slice(0, 2).join('; ')}; units that waited: ${waits.length} lines`);
  });

  it('a serving VM: unit active, /healthz 200 with the zone and instance of its metadata server, a page from the bucket', async () => {
    const vm = serving();
    assert.equal((await vm.box.exec(['systemctl', 'is-active', 'zonelab-serve.service'])).stdout.trim(), 'active');
    // The unit is active once the process runs; it answers once it has asked the metadata
    // server who it is and checked its bucket and topic, as a load balancer's check would see.
    const health = await pollUntil(() => httpRequest(`${rehearsal!.url(ZONE_B)}/healthz`).catch(() => null), (response) => response?.status === 200, 60_000);
    assert.equal(health?.status, 200);
    assert.equal(health?.headers['x-zone'], ZONE_B);
    assert.equal(health?.headers['x-instance'], 'zonelab-us-east1-b');
    const page = await httpRequest(`${rehearsal!.url(ZONE_B)}/${rehearsal!.base.bucket}/webdir/3.html`);
    assert.equal(page.status, 200);
    assert.equal(page.body, rehearsal!.gcs.get('webdir/3.html')?.toString());
    // The package sits in the same bucket and is not served.
    assert.equal((await httpRequest(`${rehearsal!.url(ZONE_B)}/${rehearsal!.base.bucket}/_zonelab/zonelab.tgz`)).status, 404);
  });

  it("a forbidden request reaches the audit VM's output, through Pub/Sub", async () => {
    await pollUntil(() => httpRequest(`${rehearsal!.url(ZONE_C)}/healthz`).catch(() => null), (response) => response?.status === 200, 60_000);
    const refused = await httpRequest(`${rehearsal!.url(ZONE_C)}/${rehearsal!.base.bucket}/webdir/4.html`, { headers: { 'X-country': 'Iran' } });
    assert.equal(refused.status, 400);
    const id = String(refused.headers['x-event-id']);
    const lines = await pollUntil(() => journal('audit', 'zonelab-audit.service'), (entries) => entries.some((entry) => entry.MESSAGE.includes(id)), 30_000, 250);
    assert.match(lines.find((entry) => entry.MESSAGE.includes(id))!.MESSAGE, new RegExp(`FORBIDDEN country=Iran .* zone=${ZONE_C} instance=zonelab-us-east1-c id=${id}`));
  });

  it("logs are JSON lines in the journal under the server's unit, where the Ops Agent config reads them", async () => {
    const entries = (await journal(ZONE_C, 'zonelab-serve.service')).filter((entry) => entry._SYSTEMD_UNIT === 'zonelab-serve.service');
    assert.ok(entries.length >= 2, JSON.stringify(entries));
    for (const entry of entries) {
      assert.match(entry._SYSTEMD_UNIT!, new RegExp(OPS_AGENT_UNIT_PATTERN));
      const line = JSON.parse(entry.MESSAGE) as Record<string, unknown>;
      assert.match(String(line.severity), /^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$/);
      assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
  });

  it('two zones behind the load balancer: the failover gcp up prints, with only the transport swapped, reroutes and returns within the bounds', async (t) => {
    const lb = await rehearsal!.startLoadBalancer();
    try {
      const run = await rehearsal!.runFailover(lb, ZONE_B, join(work, 'reports'));
      assert.match(run.command, /--kill "nsenter -t \d+ -a sh -c 'sudo systemctl kill --signal=SIGKILL zonelab-serve\.service'"/);
      assert.match(run.command, /--restart "nsenter -t \d+ -a sh -c 'sudo systemctl start zonelab-serve\.service && timeout 120 sh -c/);
      const { metrics } = JSON.parse(await readFile(join(run.reportDir, 'summary.json'), 'utf8')) as { metrics: FailoverMetrics };
      const spec = rehearsal!.base.spec;
      t.diagnostic(
        `reroute ${metrics.timeToRerouteMs} ms (bound ${detectionBoundSec(spec)} s), failed ${metrics.errors.count}, ` +
          `return ${metrics.timeToReturnMs} ms from the restart, ${metrics.timeToReturnFromReadyMs} ms from ready (bound ${returnBoundSec(spec)} s)`,
      );
      assert.ok(metrics.rerouted && metrics.timeToRerouteMs! <= detectionBoundSec(spec) * 1000, `reroute ${metrics.timeToRerouteMs} ms`);
      assert.ok(metrics.returned && metrics.timeToReturnFromReadyMs! <= returnBoundSec(spec) * 1000, `return ${metrics.timeToReturnFromReadyMs} ms`);
      const before = metrics.phases.find((phase) => phase.phase === 'before')!;
      for (const vm of ['zonelab-us-east1-b', 'zonelab-us-east1-c']) {
        const share = (before.byInstance[vm] ?? 0) / before.answered;
        t.diagnostic(`${vm}: ${(share * 100).toFixed(1)}% of ${before.answered} before the fault`);
        assert.ok(share >= 0.4 && share <= 0.6, `${vm} had ${(share * 100).toFixed(1)}% before the fault`);
      }
    } finally {
      await rehearsal!.stopLoadBalancer();
    }
  });

  it('a second boot runs the startup script again: nothing reinstalled, the server serves again', async () => {
    const vm = serving();
    await vm.reboot();
    const script = await vm.startupScript();
    assert.ok(script.ok, script.log);
    assert.doesNotMatch(script.log, /tar\.xz: OK|added \d+ packages/, 'Node.js and zonelab were already installed');
    assert.match(script.log, /zonelab-serve\.service is running/);
    const health = await pollUntil(() => httpRequest(`${rehearsal!.url(ZONE_B)}/healthz`).catch(() => null), (response) => response?.status === 200, 60_000);
    assert.equal(health?.headers['x-zone'], ZONE_B);
  });

  it('leaves nothing running: VMs powered off, the balancer stopped, its rules gone', async () => {
    const boxes = [...rehearsal!.vms.values()].map((vm) => vm.box.pid);
    const table = rehearsal!.nftTable;
    await rehearsal!.close();
    for (const pid of boxes) assert.equal(await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => 'gone'), 'gone', `box ${pid}`);
    assert.equal(spawnSync('pgrep', ['-f', `lab prober --config ${join(work, 'lb', 'prober.json')}`]).status, 1, 'no prober');
    assert.equal(spawnSync('nft', ['list', 'table', 'inet', table]).status === 0, false, 'no table');
    rehearsal = undefined;
  });
});

if (unavailable) {
  describe('the cloud deployment rehearsed', () => {
    it('needs Debian boxes and the passthrough balancer (root, nftables)', { skip: unavailable }, () => {});
  });
}
