import assert from 'node:assert/strict';
import { appendFile, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { caddyDriver } from '../../src/lb/drivers/caddy.js';
import type { LbState } from '../../src/lb/index.js';

// A log Caddy 2.6.2 wrote at a real start on this machine: the copy of the configuration it
// provisions first and throws away logged "unhealthy" for both upstreams (its checks were
// cancelled); the copy it serves logged nothing, since it found both healthy.
const STARTED = new URL('../../../test/fixtures/caddy-2.6-start.ndjson', import.meta.url);

describe("Caddy's view of its upstreams, read from its log (a real Caddy log, no Caddy process)", () => {
  let dir: string;
  let state: LbState;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-caddy-log-'));
    const log = join(dir, 'caddy.log');
    await copyFile(STARTED, log);
    state = {
      kind: 'caddy',
      processes: [{ pid: null, marker: 'none', log: join(dir, 'caddy.out') }],
      listenHost: '127.0.0.1',
      listenPort: 8080,
      backends: [
        { name: 'us-east1-b-vm1', zone: 'us-east1-b', host: '127.0.1.1', port: 8080 },
        { name: 'us-east1-c-vm1', zone: 'us-east1-c', host: '127.0.1.2', port: 8080 },
      ],
      files: { config: join(dir, 'caddy.json'), log },
      settings: {},
    };
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('ignores what the discarded copy logged before serving: both upstreams up, no change', async () => {
    const balancer = caddyDriver.open(state);
    assert.deepEqual((await balancer.view())?.map((view) => view.status), ['UP', 'UP']);
    const { changes, cursor } = await balancer.changes(0);
    assert.deepEqual(changes, []);
    assert.ok(cursor > 0);
  });

  it('takes every change logged after serving, with its own time', async () => {
    const balancer = caddyDriver.open(state);
    const { cursor } = await balancer.changes(0);
    await appendFile(state.files.log!, `${JSON.stringify({ level: 'debug', ts: 1796171150.5, logger: 'events', msg: 'event', name: 'unhealthy', data: { host: '127.0.1.1:8080' } })}\n`);
    assert.deepEqual((await balancer.changes(cursor)).changes, [{ at: 1796171150500, server: 'us-east1-b-vm1', status: 'DOWN' }]);
    assert.deepEqual((await balancer.view())?.map((view) => view.status), ['DOWN', 'UP']);
  });
});
