import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../helpers/free-port.js';
import { CLI_PATH } from '../helpers/paths.js';
import { type ServeProcess, startServeProcess } from '../helpers/serve-process.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

const run = promisify(execFile);

describe('zonelab failover --target (real CLI against a real server)', () => {
  let bucket: TempBucket;
  let server: ServeProcess;
  let out: string;

  before(async () => {
    bucket = await makeTempBucket(20);
    server = await startServeProcess(['--bucket', bucket.root, '--zone', 'us-east1-b', '--instance', 'zonelab-us-east1-b']);
    out = await mkdtemp(join(tmpdir(), 'zonelab-target-cli-'));
  });
  after(async () => {
    await server.kill();
    await bucket.remove();
    await rm(out, { recursive: true, force: true });
  });

  /** A short run whose commands do nothing: the report's setup and bounds are what is checked. */
  async function failover(dir: string, ...flags: string[]): Promise<string> {
    await run(process.execPath, [
      CLI_PATH, 'failover', '--target', server.url, '--fault-zone', 'us-east1-b', '--kill', 'true', '--restart', 'true',
      '-i', '20', '--rate', '50', '--warmup', '300ms', '--hold', '300ms', '--max-wait', '1s', '--out-dir', join(out, dir), ...flags,
    ]);
    const [folder] = await readdir(join(out, dir));
    return readFile(join(out, dir, folder!, 'report.md'), 'utf8');
  }

  it('carries the spec the flags state into the setup and the bounds of the report', async () => {
    const report = await failover('stated', '--profile', 'gcp-default', '--check-interval', '4', '--check-timeout', '4', '--unhealthy-threshold', '3', '--command-timeout', '10s');
    assert.match(report, /\| profile \| gcp-default, mode tcp/);
    assert.match(report, /\| health check \| GET \/healthz every 4 s, timeout 4 s, healthy after 2, unhealthy after 3 \|/);
    // 3 × 4 + 4 and 2 × 4 + 4, each with the 2 s allowance for applying a verdict.
    assert.match(report, /\| time to reroute .* \| ≤ 18 s \|/);
    assert.match(report, /\| time to return, from the server being ready .* \| ≤ 14 s \|/);
  });

  it('takes what the health check sees of the command (--check-sees) and the allowance (--apply-delay) into the bounds', async () => {
    const report = await failover('sees', '--profile', 'gcp-default', '--check-interval', '4', '--check-timeout', '4', '--unhealthy-threshold', '3', '--check-sees', 'fails-fast', '--apply-delay', '0');
    // 3 × 4 for checks that fail at once, no timeout; 2 × 4 back.
    assert.match(report, /\| time to reroute .* \| ≤ 12 s \|/);
    assert.match(report, /\| time to return, from the server being ready .* \| ≤ 8 s \|/);
    const setup = JSON.parse(await readFile(join(out, 'sees', (await readdir(join(out, 'sees')))[0]!, 'setup.json'), 'utf8'));
    assert.equal(setup.checkSees, 'fails-fast');
    assert.equal(setup.applyDelaySec, 0);
  });

  it('states no bounds for a load balancer whose spec it was not told', async () => {
    const report = await failover('unstated');
    assert.doesNotMatch(report, /\| profile \|/);
    assert.match(report, /\| time to reroute [^|]*\| [^|]*\| — \|/);
  });

  it('refuses --command-timeout without --target', async () => {
    await assert.rejects(run(process.execPath, [CLI_PATH, 'failover', '--command-timeout', '1m']), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.equal(error.stderr, 'error: --command-timeout applies to --target only (the commands that fault and restart a zone of another load balancer)\n(run with --help for usage)\n');
      return true;
    });
  });

  it('refuses flags that do not apply, each with one line and nothing started', async () => {
    for (const [args, message] of [
      [['--kill', 'true'], '--kill applies to --target only'],
      [['-b', 'other'], '--bucket-name applies to --target only'],
      [['--faults', 'kill'], '--faults applies to --matrix only'],
      [['--matrix', '--fault', 'stop'], '--matrix takes its faults from --faults'],
      [['--fault-zone', 'us-east1-x'], '--fault-zone us-east1-x is not one of the zones (us-east1-b, us-east1-c) (did you mean us-east1-b?)'],
      [['--target', 'http://127.0.0.1:9', '--kill', 'true', '--restart', 'true', '--fault-zone', 'z', '--zones', 'a,b'], '--zones applies to a local lab'],
    ] as const) {
      await assert.rejects(run(process.execPath, [CLI_PATH, 'failover', '--out-dir', join(out, 'refused'), ...args]), (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.ok(error.stderr.startsWith(`error: ${message}`), error.stderr);
        return true;
      });
    }
    await assert.rejects(readdir(join(out, 'refused')), /ENOENT/, 'no report folder for a refused run');
  });

  it('stops with one line, exit 1 and no report when the target answers nothing during the warm-up', async () => {
    const closed = await freePort();
    await assert.rejects(
      run(process.execPath, [
        CLI_PATH, 'failover', '--target', `http://127.0.0.1:${closed}`, '--fault-zone', 'us-east1-b', '--kill', 'true', '--restart', 'true',
        '--rate', '50', '--warmup', '500ms', '--out-dir', join(out, 'silent'),
      ]),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1);
        assert.match(error.stderr, new RegExp(`^zonelab: http://127\\.0\\.0\\.1:${closed} answered none of the \\d+ requests of the warm-up \\(ECONNREFUSED ×\\d+\\): nothing to measure, no report written\\n$`, 'm'));
        return true;
      },
    );
    assert.deepEqual(await readdir(join(out, 'silent')), [], 'no run folder');
  });

  /** A run that must stop before its fault: exit 1, the one line on stderr, no run folder. */
  async function refusedBeforeFault(dir: string, url: string, flags: string[], line: RegExp): Promise<void> {
    await assert.rejects(
      run(process.execPath, [
        CLI_PATH, 'failover', '--target', url, '--kill', 'true', '--restart', 'true',
        '-i', '20', '--rate', '50', '--warmup', '500ms', '--out-dir', join(out, dir), ...flags,
      ]),
      (error: { code: number; stderr: string }) => {
        assert.equal(error.code, 1, error.stderr);
        assert.match(error.stderr, line);
        assert.equal(error.stderr.split('\n').filter((text) => text.startsWith('zonelab:')).length, 1, error.stderr);
        return true;
      },
    );
    assert.deepEqual(await readdir(join(out, dir)), [], 'no run folder');
  }

  it('stops before the fault when no answer of the warm-up carries a zone (any HTTP server, not ours)', async () => {
    // What `python3 -m http.server` is to a student: answers, 404s, no X-Zone.
    const plain = createServer((_req, res) => res.writeHead(404, { 'content-type': 'text/html' }).end('not found'));
    await new Promise<void>((done) => plain.listen(0, '127.0.0.1', done));
    try {
      const url = `http://127.0.0.1:${(plain.address() as AddressInfo).port}`;
      await refusedBeforeFault('plain', url, ['--fault-zone', 'us-east1-b'], /^zonelab: none of the \d+ answers of the warm-up from http:\/\/127\.0\.0\.1:\d+ carried an X-Zone header \(statuses: 404 ×\d+\): it is not a zonelab server/m);
    } finally {
      await new Promise((done) => plain.close(done));
    }
  });

  it('stops before the fault when the answers are 404s (a wrong bucket path), naming the statuses and the paths asked', async () => {
    await refusedBeforeFault('wrong-bucket', server.url, ['--fault-zone', 'us-east1-b', '-b', 'nosuchbucket'], /^zonelab: only \d+ of the \d+ answers of the warm-up were successes \(statuses: 404 ×\d+(, 400 ×\d+)?\) for \/nosuchbucket\/webdir\/0\.html … \/nosuchbucket\/webdir\/19\.html: check --bucket-name/m);
  });

  it('stops before the fault when --fault-zone never answered, naming the zones that did', async () => {
    await refusedBeforeFault('other-zone', server.url, ['--fault-zone', 'us-east1-c'], /^zonelab: --fault-zone us-east1-c never answered during the warm-up; the zones that did: us-east1-b \(\d+ answers\): the fault would be measured on a zone that already takes no traffic/m);
  });

  it('trials: a later trial with nothing to measure keeps the trials before it, with their spread', async () => {
    // A kill that is never undone: the first trial measures a dead zone, the second has no answer.
    const doomed = await startServeProcess(['--bucket', bucket.root, '--zone', 'us-east1-b', '--instance', 'zonelab-us-east1-b']);
    try {
      const dir = join(out, 'later-silent');
      const result = await run(process.execPath, [
        CLI_PATH, 'failover', '--target', doomed.url, '--fault-zone', 'us-east1-b', '--kill', `kill -9 ${doomed.child.pid}`, '--restart', 'true',
        '-i', '20', '--rate', '50', '--warmup', '300ms', '--hold', '300ms', '--max-wait', '1s', '--trials', '2', '--out-dir', dir,
      ]).then(
        () => ({ code: 0, stderr: '' }),
        (error: { code: number; stderr: string }) => error,
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /^zonelab: trial 2: http:\/\/127\.0\.0\.1:\d+ answered none of the \d+ requests of the warm-up \(ECONNREFUSED ×\d+\): nothing to measure, no report written; the 1 trial before it and their spread are in /m);
      const [folder] = await readdir(dir);
      const kept = await readdir(join(dir, folder!));
      assert.ok(kept.includes('trial-01') && !kept.includes('trial-02'), kept.join(', '));
      assert.ok(kept.includes('report.md') && kept.includes('trials.json'), kept.join(', '));
    } finally {
      await doomed.kill();
    }
  });

  it('refuses a lab --fault with --target, and a malformed fault, each with one line', async () => {
    const target = ['failover', '--target', 'http://127.0.0.1:9', '--kill', 'true', '--restart', 'true', '--fault-zone', 'z', '--fault', 'partition'];
    await assert.rejects(run(process.execPath, [CLI_PATH, ...target]), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.equal(error.stderr, 'error: --fault applies to a local lab; with --target the fault is what --kill and --restart do\n(run with --help for usage)\n');
      return true;
    });
    await assert.rejects(run(process.execPath, [CLI_PATH, 'failover', '--fault', 'errors:2']), (error: { code: number; stderr: string }) => {
      assert.equal(error.code, 1);
      assert.match(error.stderr, /^error: option '--fault <fault>' argument 'errors:2' is invalid\. "errors:2" needs a fraction above 0 and at most 1, such as 0\.5 or 50%\n\(run with --help for usage\)\n$/);
      return true;
    });
  });
});
