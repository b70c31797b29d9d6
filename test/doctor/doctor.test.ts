import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { atLeast, chromiumCheck, haproxyCheck, networkFaultCheck, nodeCheck, renderChecks, sqliteCheck } from '../../src/doctor/index.js';
import { freePort } from '../helpers/free-port.js';
import { CLI_PATH, GCLOUD_STAND_IN_DIR } from '../helpers/paths.js';

const run = promisify(execFile);

async function doctor(env: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string }> {
  try {
    const { stdout } = await run(process.execPath, [CLI_PATH, 'doctor', ...args], { env, timeout: 60_000 });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, stdout: failed.stdout };
  }
}

describe('zonelab doctor: each check and its fix', () => {
  it('compares versions and names the fix of each missing prerequisite', () => {
    assert.equal(atLeast('v20.18.1', '20.18.1'), true);
    assert.equal(atLeast('v20.9.0', '20.18.1'), false);
    assert.equal(atLeast('v24.0.0', '20.18.1'), true);
    assert.deepEqual(nodeCheck('v18.19.0').ok, false);
    assert.match(nodeCheck('v18.19.0').fix ?? '', /install Node\.js 20\.18\.1 or later/);
    assert.equal(sqliteCheck('node:sqlite').ok, true);
    assert.match(sqliteCheck(null).fix ?? '', /npm install better-sqlite3@12/);
    assert.equal(sqliteCheck().ok, true, 'an engine loads on the runtime the tests run on');
    assert.deepEqual(haproxyCheck(null), { name: 'HAProxy', ok: false, found: 'not installed', fix: 'apt-get install -y haproxy', neededFor: 'the lab and failover', required: true });
    assert.equal(networkFaultCheck(1000, false).fix, 'apt-get install -y nftables; run the command as root (sudo)');
    assert.equal(networkFaultCheck(0, true).ok, true);
    assert.equal(chromiumCheck(null).fix, 'apt-get install -y chromium');
  });

  it('says whether the default job can run, and what else is not ready', () => {
    const text = renderChecks([haproxyCheck(null), chromiumCheck(null), nodeCheck('v24.1.0')]);
    assert.match(text, /^MISSING {2}HAProxy {3}not installed {2}\(the lab and failover\)\n {10}fix: apt-get install -y haproxy$/m);
    assert.match(text, /^missing {2}Chromium {2}not installed/m);
    assert.match(text, /the default job \(npm start\) cannot run: HAProxy$/);
    assert.match(renderChecks([chromiumCheck(null)]), /ready for the default job \(npm start\); not ready for: report --pdf and the browser tests$/);
  });
});

describe('zonelab doctor (real ports, a stand-in gcloud on PATH)', () => {
  let dir: string;
  let state: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-doctor-'));
    state = join(dir, 'gcloud-state.json');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('names a busy load-balancer address and who holds it, exits 1; checks gcloud, its login and the project', async () => {
    const blocker = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, '127.0.0.1', resolve));
    try {
      await writeFile(state, JSON.stringify({ calls: [], resources: {}, objects: [], failOn: null, failMessage: '', account: 'student@example.com', hiddenProjects: ['not-mine'] }));
      const env = { ...process.env, PATH: `${GCLOUD_STAND_IN_DIR}${delimiter}${process.env.PATH}`, GCLOUD_STAND_IN_STATE: state };
      const serverPort = String(await freePort('127.0.1.1'));
      const busy = await doctor(env, '--listen', `127.0.0.1:${port}`, '--port', serverPort, '--project', 'not-mine');
      assert.equal(busy.code, 1);
      assert.match(busy.stdout, new RegExp(`^MISSING  127\\.0\\.0\\.1:${port} +in use by .* \\(pid ${process.pid}\\)  \\(the load balancer\\)\\n +fix: stop .*, or give zonelab another address with --listen 127\\.0\\.0\\.1:<port>$`, 'm'));
      assert.match(busy.stdout, /^ok +gcloud +Google Cloud SDK 500\.0\.0 \(stand-in\)/m);
      assert.match(busy.stdout, /^ok +gcloud login +student@example\.com/m);
      assert.match(busy.stdout, /^missing +project not-mine +student@example\.com cannot see it/m);
      assert.match(busy.stdout, /the default job \(npm start\) cannot run: .*127\.0\.0\.1:\d+/m);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
