import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { addressFree, findLabs } from '../../src/lab/index.js';
import { freePort, freeServerPort } from '../helpers/free-port.js';
import { alive, endLabsUnder, labDirsUnder, skipWithoutHaproxy } from '../helpers/lab-process.js';
import { CLI_PATH } from '../helpers/paths.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);

/** The real CLI in `cwd`, to its end; a non-zero exit is returned, not thrown. */
async function zonelabIn(cwd: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, ...args], { cwd, timeout: 60_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('a lab left by a killed run is found by its processes, named wherever its address comes up, and stopped (real HAProxy, kill -9)', { skip: skipWithoutHaproxy }, () => {
  let bucket: TempBucket;
  let parent: string;
  let elsewhere: string;
  let child: ChildProcess | undefined;

  before(async () => {
    bucket = await makeTempBucket(20);
    parent = await mkdtemp(join(tmpdir(), 'zonelab-left-'));
    // A folder of its own to run from, so ./data/lab there is no lab at all.
    elsewhere = await mkdtemp(join(tmpdir(), 'zonelab-cwd-'));
  });
  after(async () => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await endLabsUnder(parent).finally(async () => {
      await bucket.remove();
      await rm(parent, { recursive: true, force: true });
      await rm(elsewhere, { recursive: true, force: true });
    });
  });

  it('kill -9 of failover mid-run: doctor and the next run name the lab and its lab down line; lab down --all stops it and frees its addresses', async () => {
    const listen = await freePort();
    const serverPort = await freeServerPort();
    const reports = join(parent, 'reports');
    const address = ['--listen', `127.0.0.1:${listen}`, '--port', String(serverPort)];
    child = spawn(process.execPath, [CLI_PATH, 'failover', '--profile', 'fast', '--bucket', bucket.root, ...address, '--warmup', '60s', '--out-dir', reports], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child!.on('exit', resolve));
    await waitFor(() => /^warm-up /m.test(output), 30_000, `the warm-up (${output})`);
    const [labDir] = labDirsUnder(reports);
    assert.ok(labDir, 'the run has a lab folder');
    const state = JSON.parse(await readFile(join(labDir, 'state.json'), 'utf8'));
    const pids: number[] = [...state.lb.processes.map((p: { pid: number | null }) => p.pid), state.audit.pid, ...state.servers.map((s: { pid: number | null }) => s.pid)].filter((pid) => pid !== null);
    child.kill('SIGKILL');
    await exited;
    assert.ok(pids.every(alive), 'kill -9 of the supervisor leaves the lab running (nothing could stop it)');

    // Found by its processes alone.
    const found = findLabs(parent);
    assert.deepEqual(found.map((lab) => lab.dir), [labDir]);
    assert.deepEqual(found[0]!.processes.map((p) => p.pid).sort(), [...pids].sort());

    const down = `zonelab lab down --dir ${labDir}`;
    const doctor = await zonelabIn(elsewhere, 'doctor', ...address);
    assert.match(doctor.stdout, new RegExp(`in use by the lab in ${labDir} \\(haproxy, pid \\d+\\), still running`));
    assert.ok(doctor.stdout.includes(down), doctor.stdout);

    const again = await zonelabIn(elsewhere, 'failover', '--profile', 'fast', '--bucket', bucket.root, ...address, '--out-dir', join(parent, 'again'));
    assert.equal(again.code, 1, again.stderr);
    const line = again.stderr.split('\n').find((text) => text.startsWith('zonelab:'));
    assert.ok(line?.includes(`127.0.0.1:${listen} is in use by the lab in ${labDir} (haproxy, pid `), again.stderr);
    assert.ok(line?.includes(`stop it with "${down}"`), line);

    // lab down without --dir looks in ./data/lab, and says where labs do run.
    const plain = await zonelabIn(elsewhere, 'lab', 'down');
    assert.match(plain.stdout, /^no lab running in \.\/data\/lab; running elsewhere: /);
    assert.ok(plain.stdout.includes(labDir), plain.stdout);

    const all = await zonelabIn(elsewhere, 'lab', 'down', '--all', '--under', parent);
    assert.equal(all.code, 0, all.stderr);
    assert.match(all.stdout, new RegExp(`^stopped the lab in ${labDir} \\(`, 'm'));
    assert.deepEqual(pids.filter(alive), [], 'every process of the lab is gone');
    assert.ok(await addressFree('127.0.0.1', listen), 'the load balancer address is free');
    assert.ok(await addressFree('127.0.1.1', serverPort), "the first server's address is free");
    assert.deepEqual(findLabs(parent), []);
    assert.equal((await zonelabIn(elsewhere, 'lab', 'down', '--all', '--under', parent)).stdout, `no lab running under ${parent} (none of this user's processes belongs to one)\n`);
  });

  it('refuses --under without --all, and --dir with --all, in one line', async () => {
    const under = await zonelabIn(elsewhere, 'lab', 'down', '--under', parent);
    assert.equal(under.code, 1);
    assert.match(under.stderr, /^error: --under applies to --all only/);
    const both = await zonelabIn(elsewhere, 'lab', 'down', '--all', '--dir', parent);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /^error: --all finds the labs itself: leave out --dir/);
  });
});
