import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { OPS_AGENT_UNIT_PATTERN, renderUnit, resourceNames } from '../../src/gcp/index.js';
import { type Box, bootBox, boxUnavailable, ensureRootfs } from '../helpers/debian-box.js';
import { freePort } from '../helpers/free-port.js';
import { drainSecondsFor } from '../../src/lb/index.js';
import { testDeployment } from '../helpers/gcp-deployment.js';
import { httpRequest } from '../helpers/http.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { holdsFor, pollUntil } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const unavailable = boxUnavailable();

interface JournalEntry {
  MESSAGE: string;
  _SYSTEMD_UNIT?: string;
  PRIORITY?: string;
}

/**
 * The systemd units exactly as the plan writes them, under a real systemd 252 in a booted
 * Debian 12 box. Only what points at Google Cloud is rewritten to local things: the bucket
 * (a folder), the bus (SQLite in the unit's state directory) and the port (a free one: the
 * box shares this machine's network). /usr/local/bin/zonelab runs this checkout with this
 * Node.js, where a VM runs the package it installed.
 */
describe('the serve and audit units under a real systemd 252 (Debian 12 in systemd-nspawn)', { skip: unavailable ?? false }, () => {
  const deployment = testDeployment('backend-service', 'gcp-default');
  const names = resourceNames(deployment);
  let bucket: TempBucket;
  let box: Box;
  let port: number;
  let url: string;

  const localUnit = (role: 'serve' | 'audit') =>
    renderUnit(deployment, role)
      .replace(/--bucket gs:\/\/\S+/, '--bucket /srv/bucket')
      .replace(/--bus pubsub:\S+/, '--bus sqlite:/var/lib/zonelab/events')
      .replace(/--port \d+/, `--port ${port}`);

  async function systemctl(...args: string[]) {
    const result = await box.exec(['systemctl', ...args]);
    return result.stdout.trim();
  }
  async function journal(unit: string): Promise<JournalEntry[]> {
    const result = await box.exec(['journalctl', '-u', unit, '-o', 'json', '--no-pager']);
    return result.stdout.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as JournalEntry);
  }
  /** The unit's own lines (systemd's "Started …" lines carry no _SYSTEMD_UNIT of the unit). */
  async function unitLines(unit: string): Promise<JournalEntry[]> {
    return (await journal(unit)).filter((entry) => entry._SYSTEMD_UNIT === unit);
  }

  before(async () => {
    // The root file system is built once and cached; building it is not part of what is timed.
    await ensureRootfs((line) => console.error(line));
    bucket = await makeTempBucket(10);
    port = await freePort();
    url = `http://127.0.0.1:${port}`;
    box = await bootBox({
      name: 'zonelab-units',
      binds: [
        { host: REPO, box: '/opt/zonelab-src', readOnly: true },
        { host: process.execPath, box: '/usr/local/bin/node', readOnly: true },
        { host: bucket.root, box: '/srv/bucket', readOnly: true },
      ],
    });
    await box.writeFile('/usr/local/bin/zonelab', '#!/bin/sh\nexec /usr/local/bin/node /opt/zonelab-src/dist/src/cli/main.js "$@"\n', 0o755);
    await box.writeFile(`/etc/systemd/system/${names.unit}`, localUnit('serve'));
    await box.writeFile(`/etc/systemd/system/${names.auditUnit}`, localUnit('audit'));
    await systemctl('daemon-reload');
  });
  after(async () => {
    await box?.close();
    await bucket?.remove();
  });

  it('starts the serve unit: active, /healthz 200, a page served with the zone headers', async () => {
    const started = await box.exec(['systemctl', 'start', names.unit]);
    assert.equal(started.code, 0, `${started.stderr}\n${await systemctl('status', names.unit, '--no-pager')}`);
    const health = await pollUntil(() => httpRequest(`${url}/healthz`).catch(() => null), (response) => response?.status === 200, 15_000);
    assert.equal(health?.status, 200);
    assert.equal(await systemctl('is-active', names.unit), 'active');
    const page = await httpRequest(`${url}/bucket/webdir/3.html`);
    assert.equal(page.status, 200);
    assert.ok(page.headers['x-zone'] && page.headers['x-instance'], JSON.stringify(page.headers));
  });

  it('writes JSON lines to the journal under its unit, where the Ops Agent config reads them, with severity and time', async () => {
    const refused = await httpRequest(`${url}/bucket/webdir/3.html`, { headers: { 'X-country': 'Cuba' } });
    assert.equal(refused.status, 400);
    const id = String(refused.headers['x-event-id']);
    const lines = await pollUntil(
      () => unitLines(names.unit),
      (entries) => entries.some((entry) => entry.MESSAGE.includes(id)),
      10_000,
    );
    assert.ok(lines.length >= 2, 'the start-up line and the refusal');
    for (const entry of lines) {
      assert.match(entry._SYSTEMD_UNIT!, new RegExp(OPS_AGENT_UNIT_PATTERN));
      const line = JSON.parse(entry.MESSAGE) as Record<string, unknown>;
      assert.match(String(line.severity), /^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$/);
      assert.match(String(line.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.equal(typeof line.message, 'string');
    }
    const refusal = JSON.parse(lines.find((entry) => entry.MESSAGE.includes(id))!.MESSAGE) as Record<string, unknown>;
    assert.equal(refusal.severity, 'WARNING');
  });

  it('a SIGKILL leaves the server down (no automatic restart); systemctl start brings it back', async () => {
    assert.equal((await box.exec(['systemctl', 'kill', '--signal=SIGKILL', names.unit])).code, 0);
    const state = await pollUntil(() => systemctl('show', names.unit, '-p', 'ActiveState,Result,NRestarts'), (text) => /ActiveState=failed/.test(text), 10_000);
    assert.match(state, /Result=signal/);
    // A unit that restarts on failure would be back within RestartSec (100 ms by default):
    // it stays failed, never restarted, for 2 s.
    await holdsFor(() => systemctl('show', names.unit, '-p', 'ActiveState,NRestarts'), (text) => /ActiveState=failed/.test(text) && /NRestarts=0/.test(text), 2000);
    assert.equal(await httpRequest(`${url}/healthz`).then(() => 'answered', () => 'refused'), 'refused');

    assert.equal((await box.exec(['systemctl', 'start', names.unit])).code, 0);
    const health = await pollUntil(() => httpRequest(`${url}/healthz`).catch(() => null), (response) => response?.status === 200, 15_000);
    assert.equal(health?.status, 200);
  });

  it('the audit unit starts and prints the refusal the server recorded, into its own journal', async () => {
    const refused = await httpRequest(`${url}/bucket/webdir/4.html`, { headers: { 'X-country': 'Iran' } });
    const id = String(refused.headers['x-event-id']);
    // On Google Cloud the two run on different VMs; here they share the box, so the server
    // stops first (its drain: the spec's detection bound + 1 s) and the audit takes the
    // state directory over.
    const stopping = performance.now();
    assert.equal((await box.exec(['systemctl', 'stop', names.unit], { timeoutMs: 60_000 })).code, 0);
    const stopSec = (performance.now() - stopping) / 1000;
    // SIGTERM drains for the spec's detection bound + 1 s, inside TimeoutStopSec: a clean stop.
    const drain = drainSecondsFor(deployment.spec);
    assert.ok(stopSec >= drain - 0.5 && stopSec < drain + 10, `stopped in ${stopSec.toFixed(1)} s, drain ${drain} s`);
    assert.match(await systemctl('show', names.unit, '-p', 'Result'), /Result=success/);
    const started = await box.exec(['systemctl', 'start', names.auditUnit]);
    assert.equal(started.code, 0, `${started.stderr}\n${await systemctl('status', names.auditUnit, '--no-pager')}`);
    const lines = await pollUntil(() => unitLines(names.auditUnit), (entries) => entries.some((entry) => entry.MESSAGE.includes(id)), 15_000);
    assert.match(lines.find((entry) => entry.MESSAGE.includes(id))!.MESSAGE, /FORBIDDEN country=Iran .* id=/);
    assert.equal(await systemctl('is-active', names.auditUnit), 'active');
  });
});

if (unavailable) {
  describe('the serve and audit units under a real systemd 252', () => {
    it('needs a Debian box', { skip: unavailable }, () => {});
  });
}
