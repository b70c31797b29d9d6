import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Lab, openLab, type StopSignal } from '../../src/lab/index.js';
import { freePort, freeServerPort } from '../helpers/free-port.js';
import { alive, labPids, rssKiB, skipWithoutHaproxy, zonelab, endLabsUnder } from '../helpers/lab-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

const CYCLES = Number(process.env.ZONELAB_SOAK_CYCLES ?? 20);
const RATE = 100;
// Two zones are killed and restarted in turn; a third serves the whole soak untouched, so
// its server (with HAProxy and the audit) is long-lived and a leak would show in it.
const ZONES = ['us-east1-b', 'us-east1-c'];
const STEADY_ZONE = 'us-east1-d';

interface Answer {
  status: number | null;
  eventId: string | null;
}

/** Requests at RATE per second on new connections, every fourth from a forbidden country, until stopped. */
function startLoad(port: number): { answers: Answer[]; stop(): Promise<void> } {
  const answers: Answer[] = [];
  let inFlight = 0;
  let sent = 0;
  const timer = setInterval(() => {
    const forbidden = sent % 4 === 0;
    const page = sent % 50;
    sent++;
    inFlight++;
    const req = request(
      { host: '127.0.0.1', port, path: `/bucket/webdir/${page}.html`, agent: false, headers: forbidden ? { 'X-country': 'Iran' } : {}, timeout: 5000 },
      (res) => {
        res.resume();
        res.on('end', () => {
          const id = res.headers['x-event-id'];
          answers.push({ status: res.statusCode ?? null, eventId: typeof id === 'string' ? id : null });
          inFlight--;
        });
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => {
      answers.push({ status: null, eventId: null });
      inFlight--;
    });
    req.end();
  }, 1000 / RATE);
  return {
    answers,
    async stop() {
      clearInterval(timer);
      await waitFor(() => inFlight === 0, 10_000, 'in-flight requests to end');
    },
  };
}

describe('soak: kill and restart zones under load with forbidden traffic mixed in (real lab)', { skip: skipWithoutHaproxy }, () => {
  let parent: string;
  let bucket: TempBucket;
  let dir: string;

  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-soak-'));
    bucket = await makeTempBucket(50);
    dir = join(parent, 'lab');
  });
  after(async () => {
    try {
      await endLabsUnder(parent, [dir]);
    } finally {
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it(`${CYCLES} cycles of KILL/TERM and restart: every event id printed once, every backend UP, nothing left, the long-lived processes' memory flat`, async (t) => {
    const lbPort = await freePort();
    const backendPort = await freeServerPort(3);
    const up = await zonelab(
      'lab', 'up', '--detach', '--dir', dir, '--zones', [...ZONES, STEADY_ZONE].join(','),
      '--listen', `127.0.0.1:${lbPort}`, '--port', String(backendPort), '--bucket', bucket.root, '--profile', 'fast',
    );
    assert.equal(up.code, 0, up.stderr);
    const lab: Lab = await openLab(dir);
    const stateOf = async (zone: string) => (await lab.status()).find((backend) => backend.server.zone === zone)?.lb?.status ?? '';
    // The processes that live through the whole soak: the untouched zone's server, the audit, HAProxy.
    const steadyPid = (await lab.status()).find((backend) => backend.server.zone === STEADY_ZONE)!.server.pid!;
    const longLived = { [`${STEADY_ZONE} server`]: steadyPid, audit: lab.state.audit.pid!, HAProxy: lab.state.lb!.processes[0]!.pid! };
    const memory = () =>
      Object.fromEntries(
        Object.entries(longLived).map(([name, pid]) => {
          const rss = rssKiB(pid);
          assert.ok(rss !== null, `${name} (pid ${pid}) runs`);
          return [name, rss];
        }),
      );

    const load = startLoad(lbPort);
    let memoryAfterFirst: Record<string, number> = {};
    const cycleTimes: number[] = [];
    try {
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        const started = performance.now();
        // Zones alternate every cycle; each zone alternates KILL and TERM.
        const zone = ZONES[cycle % 2]!;
        const signal: StopSignal = Math.floor(cycle / 2) % 2 === 0 ? 'KILL' : 'TERM';
        await lab.stop(zone, signal);
        await waitFor(async () => (await stateOf(zone)).startsWith('DOWN'), 15_000, `cycle ${cycle + 1}: ${zone} DOWN after ${signal}`);
        await lab.start(zone);
        await waitFor(async () => (await stateOf(zone)) === 'UP', 15_000, `cycle ${cycle + 1}: ${zone} UP after its restart`);
        cycleTimes.push(performance.now() - started);
        if (cycle === 0) memoryAfterFirst = memory();
      }
    } finally {
      await load.stop();
    }
    const memoryAfterLast = memory();

    // Every backend is UP at the end.
    const backends = await lab.status();
    assert.deepEqual(
      backends.map((backend) => backend.lb?.status),
      backends.map(() => 'UP'),
    );

    // Every event id the client received is printed by the audit exactly once.
    const received = load.answers.filter((answer) => answer.status === 400).map((answer) => answer.eventId);
    assert.ok(received.length >= CYCLES * 10, `only ${received.length} refusals were answered`);
    assert.ok(received.every((id) => id !== null), 'a refusal came without X-Event-Id');
    const printedIds = async () =>
      (await readFile(lab.state.audit.log, 'utf8'))
        .split('\n')
        .filter((line) => line.includes(' FORBIDDEN '))
        .map((line) => /\bid=(\S+)/.exec(line)?.[1] ?? '');
    await waitFor(async () => {
      const printed = new Set(await printedIds());
      return received.every((id) => printed.has(id!));
    }, 15_000, 'the audit to print every received event id');
    const counts = new Map<string, number>();
    for (const id of await printedIds()) counts.set(id, (counts.get(id) ?? 0) + 1);
    const twice = received.filter((id) => counts.get(id!) !== 1);
    assert.deepEqual(twice, [], 'event ids not printed exactly once');

    // Nothing of the lab is left after lab down.
    const pids = await labPids(dir);
    const down = await zonelab('lab', 'down', '--dir', dir);
    assert.equal(down.code, 0, down.stderr);
    assert.deepEqual(pids.filter(alive), [], 'lab processes alive after lab down');

    // A process that has seen a cycle has its working set; past that, growth is a leak.
    for (const name of Object.keys(longLived)) {
      const growth = memoryAfterLast[name]! / memoryAfterFirst[name]!;
      assert.ok(growth <= 1.2, `${name}: ${memoryAfterFirst[name]} KiB after the first cycle, ${memoryAfterLast[name]} KiB after the last`);
    }
    const served = load.answers.filter((answer) => answer.status !== null).length;
    t.diagnostic(
      `${CYCLES} cycles (median ${Math.round(cycleTimes.sort((a, b) => a - b)[Math.floor(cycleTimes.length / 2)]! / 100) / 10} s each); ` +
        `${load.answers.length} requests, ${served} answered, ${received.length} refusals reconciled with the audit (each printed once); ` +
        `memory after the first and the last cycle: ${Object.keys(longLived).map((name) => `${name} ${memoryAfterFirst[name]} → ${memoryAfterLast[name]} KiB`).join(', ')}`,
    );
  });
});
