import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqlite } from '../../src/sqlite/index.js';
import { eventFileOf } from '../../src/bus/index.js';
import { type AuditProcess, startAuditProcess } from '../helpers/audit-process.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

const COUNTRIES = ['Iran', 'north korea', ' CUBA ', 'Syria', 'Sudan', 'Libya', 'Iraq', 'Myanmar', 'Zimbabwe'];

/** Sends `count` forbidden requests spread over `servers`, 16 at a time; resolves with the X-Event-Id of each. */
async function sendForbidden(servers: ServeProcess[], count: number): Promise<string[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });
  const ids: string[] = [];
  let next = 0;
  async function worker() {
    while (next < count) {
      const n = next++;
      const server = servers[n % servers.length]!;
      const id = await new Promise<string>((resolve, reject) => {
        const req = request(
          `${server.url}/bucket/webdir/${n % 5}.html`,
          { agent, headers: { 'X-country': COUNTRIES[n % COUNTRIES.length]!, 'X-client-IP': `10.1.${n >> 8}.${n & 255}` } },
          (res) => {
            res.resume();
            res.on('end', () =>
              res.statusCode === 400 ? resolve(String(res.headers['x-event-id'])) : reject(new Error(`status ${res.statusCode}`)),
            );
          },
        );
        req.on('error', reject);
        req.end();
      });
      ids.push(id);
    }
  }
  try {
    await Promise.all(Array.from({ length: 16 }, worker));
  } finally {
    agent.destroy();
  }
  return ids;
}

function idsIn(lines: string[]): string[] {
  return lines.map((line) => /\bid=(\S+)$/.exec(line)?.[1] ?? `unparsed: ${line}`);
}

describe('forbidden-request pipeline (two server processes, one audit process, an SQLite file per server)', () => {
  let dir: string;
  let bucket: TempBucket;
  let db: string;
  let servers: ServeProcess[] = [];
  const audits: AuditProcess[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-pipeline-'));
    bucket = await makeTempBucket(5);
    db = join(dir, 'events');
    // Both start at once (as in the lab); whichever starts is kept for after() to stop,
    // even when the other fails.
    const started = await Promise.allSettled(
      ['a', 'b'].map((zone) => startServeProcess(['--bucket', bucket.root, '--zone', `zone-${zone}`, '--instance', `vm-${zone}`, '--bus', `sqlite:${db}`])),
    );
    servers = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : []));
    const failed = started.find((result) => result.status === 'rejected');
    if (failed) throw failed.reason;
  });
  after(async () => {
    await Promise.all([...servers.map((s) => s.kill()), ...audits.map((a) => a.kill())]);
    await bucket.remove();
    await rm(dir, { recursive: true, force: true });
  });

  it('prints exactly the 1,000 ids the client was given, each once', async () => {
    const audit = startAuditProcess(['--bus', `sqlite:${db}`, '--consumer', 'exact']);
    audits.push(audit);
    const ids = await sendForbidden(servers, 1000);
    assert.equal(new Set(ids).size, 1000);
    await audit.waitForLines(1000);
    // Stopping and waiting for the exit collects anything printed after the 1,000th line,
    // so a duplicate would show in the count.
    audit.child.kill('SIGTERM');
    assert.deepEqual(await audit.exited, { code: 0, signal: null });
    const printed = idsIn(audit.lines);
    assert.equal(printed.length, 1000);
    assert.deepEqual([...printed].sort(), [...ids].sort());
    const zones = new Set(audit.lines.map((line) => /zone=(\S+)/.exec(line)?.[1]));
    assert.deepEqual([...zones].sort(), ['zone-a', 'zone-b']);
  });

  it('after kill -9 mid-stream, a restarted audit prints every id, at most one twice', async () => {
    const ids = await sendForbidden(servers, 1000);
    const first = startAuditProcess(['--bus', `sqlite:${db}`, '--consumer', 'crashy']);
    audits.push(first);
    // The consumer is new, so it starts at the first event: 2,000 in all.
    await first.waitForLines(700);
    first.child.kill('SIGKILL');
    await first.exited;
    const second = startAuditProcess(['--bus', `sqlite:${db}`, '--consumer', 'crashy']);
    audits.push(second);
    const printedBefore = first.lines.length;
    await second.waitForLines(2000 - printedBefore);
    second.child.kill('SIGTERM');
    await second.exited;
    const all = idsIn([...first.lines, ...second.lines]);
    const unique = new Set(all);
    assert.equal(unique.size, 2000);
    for (const id of ids) assert.ok(unique.has(id), `id ${id} never printed`);
    assert.ok(all.length - unique.size <= 1, `${all.length - unique.size} ids printed twice`);
  });

  it('an event answered with 400 is in the server\'s event file even when the server is killed at once', async () => {
    const victim = await startServeProcess(['--bucket', bucket.root, '--zone', 'zone-c', '--instance', 'vm-c', '--bus', `sqlite:${db}`]);
    // Stopped by after() too, should this test fail before the kill.
    servers.push(victim);
    const id = await new Promise<string>((resolve, reject) => {
      const req = request(`${victim.url}/bucket/webdir/1.html`, { headers: { 'X-country': 'Iran' }, agent: false }, (res) => {
        // kill -9 the moment the answer's head arrives.
        victim.child.kill('SIGKILL');
        resolve(String(res.headers['x-event-id']));
        res.resume();
      });
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(await victim.exited, { code: null, signal: 'SIGKILL' });
    const sqlite = openSqlite(eventFileOf(db, 'vm-c'), { readonly: true });
    try {
      const row = sqlite.prepare('SELECT body FROM events WHERE id = ?').get(id) as { body: string } | undefined;
      assert.ok(row, `event ${id} not in the database`);
      assert.equal(JSON.parse(row.body).instance, 'vm-c');
    } finally {
      sqlite.close();
    }
  });

  it('prints JSON lines with --json, and fails with one line on a missing event folder', async () => {
    const audit = startAuditProcess(['--bus', `sqlite:${db}`, '--consumer', 'json-reader', '--json']);
    audits.push(audit);
    await audit.waitForLines(2001);
    audit.child.kill('SIGINT');
    assert.equal((await audit.exited).code, 0);
    const first = JSON.parse(audit.lines[0]!);
    assert.deepEqual(Object.keys(first).sort(), ['at', 'clientIp', 'country', 'id', 'instance', 'method', 'path', 'zone']);

    // The position was committed on the way out: a restart prints only what is new.
    const resumed = startAuditProcess(['--bus', `sqlite:${db}`, '--consumer', 'json-reader', '--json']);
    audits.push(resumed);
    const [fresh] = await sendForbidden(servers, 1);
    await resumed.waitForLines(1);
    resumed.child.kill('SIGTERM');
    await resumed.exited;
    assert.deepEqual(resumed.lines.map((line) => JSON.parse(line).id), [fresh]);

    // --from-start: every event again, from the first of every server, though the position is at the end.
    const events = 2001 + 1;
    const replay = startAuditProcess(['--bus', `sqlite:${db}`, '--consumer', 'json-reader', '--json', '--from-start']);
    audits.push(replay);
    await replay.waitForLines(events);
    replay.child.kill('SIGTERM');
    await replay.exited;
    const replayed = replay.lines.map((line) => JSON.parse(line).id as string);
    assert.equal(replayed.length, events, 'each event once');
    assert.equal(new Set(replayed).size, events);
    assert.ok(replayed.includes(fresh!), 'the newest too');
    assert.deepEqual(new Set(replayed), new Set([...audit.lines, ...resumed.lines].map((line) => JSON.parse(line).id as string)), 'the same events the consumer printed before');

    const missing = startAuditProcess(['--bus', `sqlite:${join(dir, 'none')}`]);
    audits.push(missing);
    assert.equal((await missing.exited).code, 1);
    assert.match(missing.stderr().trim(), /^zonelab: no event folder at .*none /);
  });
});
