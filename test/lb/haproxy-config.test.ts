import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goldenDir, matchesGolden } from '../helpers/golden.js';
import { after, before, describe, it } from 'node:test';
import { PROFILE_NAMES, parseShowStat, renderHaproxyConfig, resolveSpec } from '../../src/lb/index.js';

// Golden files live beside the test's source, not in dist/. UPDATE_GOLDEN=1 rewrites them.
const GOLDEN = goldenDir('lb');
const hasHaproxy = spawnSync('haproxy', ['-v']).status === 0;
const backends = [
  { name: 'us-east1-b-vm1', host: '127.0.1.1', port: 8080, zone: 'us-east1-b' },
  { name: 'us-east1-c-vm1', host: '127.0.1.2', port: 8080, zone: 'us-east1-c' },
];

describe('HAProxy config', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-haproxy-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  for (const profile of PROFILE_NAMES) {
    for (const mode of ['tcp', 'http'] as const) {
      const name = `${profile}-${mode}.cfg`;
      const config = renderHaproxyConfig(resolveSpec(profile, { mode }), backends, {
        listenHost: '127.0.0.1',
        listenPort: 8080,
        statsSocket: '/run/zonelab/haproxy.sock',
      });

      it(`renders ${name} as its golden file`, async () => {
        await matchesGolden(GOLDEN, name, config);
      });

      it(`${name} passes haproxy -c`, { skip: hasHaproxy ? false : 'haproxy is not installed (apt-get install -y haproxy)' }, async () => {
        const path = join(dir, name);
        await writeFile(path, config.replace('/run/zonelab/haproxy.sock', join(dir, `${name}.sock`)));
        const result = spawnSync('haproxy', ['-c', '-f', path], { encoding: 'utf8' });
        assert.equal(result.status, 0, result.stdout + result.stderr);
      });
    }
  }

  it('checks health with GET on the request path, expecting 200', () => {
    const config = renderHaproxyConfig(resolveSpec('fast', { requestPath: '/ready' }), backends, {
      listenHost: '127.0.0.1',
      listenPort: 9000,
      statsSocket: '/tmp/s.sock',
    });
    assert.match(config, /\n {2}http-check send meth GET uri \/ready /);
    assert.match(config, /\n {2}http-check expect status 200\n/);
    assert.match(config, /\n {2}bind 127\.0\.0\.1:9000\n/);
    assert.match(config, /\n {2}stats socket \/tmp\/s\.sock mode 600 level admin\n/);
  });
});

describe('runtime API answers', () => {
  it('reads server states from show stat', () => {
    const csv = [
      '# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,',
      'zonelab,FRONTEND,,,0,1,20000,4,,,,,,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,',
      'zones,us-east1-b-vm1,0,0,0,1,,2,,,,,,0,0,0,0,UP,1,1,0,0,0,12,0,,1,3,1,,2,,2,0,,1,L7OK,',
      'zones,us-east1-c-vm1,0,0,0,1,,2,,,,,,0,0,0,0,DOWN 1/2,1,1,0,1,1,3,5,,1,3,2,,2,,2,0,,1,L4CON,',
      'zones,BACKEND,0,0,0,1,2000,4,,,,,,0,0,0,0,UP,1,1,0,,0,12,0,,1,3,0,,4,,1,0,,1,,',
      '',
    ].join('\n');
    const servers = parseShowStat(csv);
    assert.deepEqual(
      servers.map((s) => [s.server, s.status, s.up, s.lastChangeSec, s.checkStatus, s.sessionsTotal]),
      [
        ['us-east1-b-vm1', 'UP', true, 12, 'L7OK', 2],
        ['us-east1-c-vm1', 'DOWN 1/2', false, 3, 'L4CON', 2],
      ],
    );
  });
});
