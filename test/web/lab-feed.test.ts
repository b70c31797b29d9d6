import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRequestModel, type RequestResult, runLoad } from '../../src/client/index.js';
import { type BackendStatus, type Lab, startLab, watchLab } from '../../src/lab/index.js';
import { resolveSpec } from '../../src/lb/index.js';
import { createLabFeed, feedFromLab, liveBackends, processBase } from '../../src/web/index.js';
import { freePort, freeServerPort } from '../helpers/free-port.js';
import { endLabsUnder, skipWithoutHaproxy } from '../helpers/lab-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

describe("the lab's live feed without a browser: what a page is sent, from a real lab's HAProxy counters", { skip: skipWithoutHaproxy }, () => {
  let parent: string;
  let bucket: TempBucket;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-lab-feed-'));
    bucket = await makeTempBucket(50);
  });
  after(async () => {
    try {
      await endLabsUnder(parent);
    } finally {
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('counts every request per zone as HAProxy does, marks a stop and the return, and shows the zone down meanwhile', async () => {
    const zones = ['us-east1-b', 'us-east1-c'];
    const listenPort = await freePort();
    const spec = { ...resolveSpec('fast', {}), port: await freeServerPort() };
    const lab: Lab = await startLab({ zones, instancesPerZone: 1, spec, listenHost: '127.0.0.1', listenPort, bucket: bucket.root, dir: join(parent, 'lab') });
    const feed = createLabFeed({ zones, lbUrl: `http://127.0.0.1:${listenPort}`, dirFlag: null });
    const stop = new AbortController();
    // The first look is the baseline (nothing counted): the load waits for it.
    let looks = 0;
    const onLook = feedFromLab(feed, lab.state.spec);
    const watching = watchLab(lab, {
      signal: stop.signal,
      print: () => {},
      intervalMs: 100,
      onObservation: (observation) => {
        looks++;
        onLook(observation);
      },
    });
    try {
      await waitFor(() => looks > 0, 5000, 'the first look at the lab');
      const records: RequestResult[] = [];
      await runLoad({
        origin: `http://127.0.0.1:${listenPort}`,
        next: createRequestModel({ bucket: 'bucket', webdir: 'webdir', index: 50, seed: 9 }),
        mode: { kind: 'closed', concurrency: 4 },
        requests: 200,
        keepalive: false,
        connections: 1,
        timeoutMs: 5000,
        retries: 0,
        follow: false,
        signal: new AbortController().signal,
        onResult: (record) => void records.push(record),
      });
      const total = (series: string) => {
        feed.flush();
        return feed.snapshot().bins.filter((bin) => bin.series === series).reduce((sum, bin) => sum + bin.n, 0);
      };
      // HAProxy's own counters, read every 100 ms: every request, each at the zone that served it.
      await waitFor(() => total('us-east1-b') + total('us-east1-c') === 200, 5000, 'the page to count all 200 requests').catch((error: Error) => {
        throw new Error(`${error.message}: ${total('us-east1-b')} + ${total('us-east1-c')} counted, ${total('failed')} failed`);
      });
      assert.equal(total('us-east1-b'), records.filter((r) => r.zone === 'us-east1-b').length);
      assert.equal(total('failed'), 0);
      assert.deepEqual(feed.snapshot().backends.map((backend) => backend.state), ['serving', 'serving']);

      await lab.stop('us-east1-b', 'KILL');
      const labels = () => feed.snapshot().marks.map((mark) => mark.label);
      await waitFor(() => labels().includes('LB DOWN us-east1-b-vm1'), 10_000, `LB DOWN on the page (${labels().join(', ')})`);
      assert.ok(labels().includes('us-east1-b-vm1 stopped'), labels().join(', '));
      const row = feed.snapshot().backends.find((backend) => backend.zone === 'us-east1-b')!;
      assert.equal(row.state, 'down');
      assert.match(row.process, /stopped/);

      await lab.start('us-east1-b');
      await waitFor(() => labels().includes('LB UP us-east1-b-vm1'), 10_000, `LB UP on the page (${labels().join(', ')})`);
      assert.ok(labels().includes('us-east1-b-vm1 running'), labels().join(', '));
      // One mark per change: a stop and a start make four marks, nothing doubled.
      assert.deepEqual(labels(), ['us-east1-b-vm1 stopped', 'LB DOWN us-east1-b-vm1', 'us-east1-b-vm1 running', 'LB UP us-east1-b-vm1']);
    } finally {
      stop.abort();
      await watching;
      feed.close();
      await lab.down();
    }
  });
});

describe('the lab page for a balancer that keeps no view or no counts (pure)', () => {
  it('says nginx keeps no view instead of "unknown", and that Caddy and nginx count nothing to draw', () => {
    const spec = resolveSpec('fast', {});
    const row = { server: { name: 'us-east1-b-vm1', zone: 'us-east1-b' }, process: 'running', lb: null } as unknown as BackendStatus;
    assert.equal(liveBackends([row], spec, true)[0]!.words, 'the load balancer keeps no view of its backends');
    assert.match(liveBackends([row], spec)[0]!.words, /^unknown/);
    const feed = createLabFeed({ zones: ['us-east1-b'], lbUrl: 'http://127.0.0.1:8080', dirFlag: null, lb: { name: 'nginx', hasCounters: false } });
    assert.match(feed.snapshot().title, /nginx counts no connections: no requests are drawn/);
    feed.close();
    const counted = createLabFeed({ zones: ['us-east1-b'], lbUrl: 'http://127.0.0.1:8080', dirFlag: null, lb: { name: 'HAProxy', hasCounters: true } });
    assert.equal(counted.snapshot().title, 'zonelab lab: us-east1-b behind http://127.0.0.1:8080');
    counted.close();
  });
});

describe('one mark per action on the lab page (pure)', () => {
  it('takes "stopped" and "stopped (kill)" for one state, and running for another', () => {
    assert.equal(processBase('stopped (kill)'), 'stopped');
    assert.equal(processBase('stopped'), 'stopped');
    assert.equal(processBase('running (answers its health check)'), 'running');
    assert.equal(processBase(null), null);
  });
});
