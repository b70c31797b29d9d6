import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI_PATH } from '../helpers/paths.js';

const run = promisify(execFile);

async function zonelab(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI_PATH, ...args], {
      timeout: 15_000,
      // No metadata server named: off Google Cloud, zone discovery asks once and falls back.
      env: { ...process.env, GCE_METADATA_HOST: '' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('zonelab CLI', () => {
  let parent: string;
  before(async () => {
    parent = await mkdtemp(join(tmpdir(), 'zonelab-cli-'));
  });
  after(() => rm(parent, { recursive: true, force: true }));

  it('explains its subcommands in --help', async () => {
    const { code, stdout } = await zonelab('--help');
    assert.equal(code, 0);
    assert.match(stdout, /serve/);
    assert.match(stdout, /bucket/);
    const serveHelp = await zonelab('serve', '--help');
    for (const flag of ['--bucket', '--host', '--port', '--zone', '--instance', '--drain-seconds', '--cache-mb', '--revalidate-seconds', '--access-log']) {
      assert.match(serveHelp.stdout, new RegExp(flag));
    }
  });

  it('generates a bucket, then refuses to overwrite it without --force', async () => {
    const out = join(parent, 'bucket');
    const first = await zonelab('bucket', 'generate', '--out', out, '--count', '30', '--seed', '5');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /generated 30 pages/);
    assert.equal((await readdir(join(out, 'webdir'))).length, 30);
    const second = await zonelab('bucket', 'generate', '--out', out, '--count', '30');
    assert.equal(second.code, 1);
    assert.equal(second.stderr.trim(), `zonelab: ${out} is not empty; pass --force to replace it`);
    const kept = await zonelab('bucket', 'generate', '--out', out, '--count', '10', '--if-missing');
    assert.equal(kept.code, 0);
    assert.match(kept.stderr, /already holds a bucket; kept as it is/);
    assert.equal((await readdir(join(out, 'webdir'))).length, 30);
    const forced = await zonelab('bucket', 'generate', '--out', out, '--count', '10', '--force');
    assert.equal(forced.code, 0);
    assert.equal((await readdir(join(out, 'webdir'))).length, 10);
  });

  it('says in one line that the live page’s port is taken, before any lab process starts', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const dir = join(parent, 'web-busy-lab');
      const { code, stderr } = await zonelab('lab', 'up', '--web', `127.0.0.1:${port}`, '--dir', dir, '--bucket', join(parent, 'web-busy-bucket'));
      assert.equal(code, 1);
      assert.equal(stderr.trim(), `zonelab: --web 127.0.0.1:${port}: the port is in use (pick another, or 0 for a free one)`);
      assert.deepEqual(await readdir(parent).then((names) => names.filter((name) => name.startsWith('web-busy'))), [], 'nothing started or created');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('says in one line that the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const port = (blocker.address() as AddressInfo).port;
      const bucket = join(parent, 'port-bucket');
      await zonelab('bucket', 'generate', '--out', bucket, '--count', '2');
      const { code, stderr } = await zonelab('serve', '--bucket', bucket, '--host', '127.0.0.1', '--port', String(port), '--zone', 'z', '--instance', 'i');
      assert.equal(code, 1);
      assert.equal(stderr.trim(), `zonelab: cannot listen on 127.0.0.1:${port}: the address is already in use (is another server running?)`);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  for (const [args, pattern] of [
    [['serve', '--port', 'eighty'], /--port.*invalid.*integer from 0 to 65535/],
    [['serve', '--port', '70000'], /--port.*invalid/],
    [['serve', '--drain-seconds', '-1'], /--drain-seconds.*invalid/],
    [['serve', '--cache-mb', '1.5'], /--cache-mb.*invalid/],
    [['serve', '--no-such-flag'], /unknown option '--no-such-flag'/],
    [['bucket', 'generate', '--count', '0'], /--count.*invalid/],
    [['serve', '--bucket', '/nonexistent/zonelab-bucket', '--zone', 'z', '--instance', 'i'], /^zonelab: bucket folder \/nonexistent\/zonelab-bucket does not exist/],
    [['serve', '--bucket', 'gs://Bad_Name', '--zone', 'z', '--instance', 'i'], /^zonelab: "Bad_Name" is not a valid Cloud Storage bucket name/],
    [['lab', 'up', '--web', 'example.com:8090'], /--web.*"example\.com:8090" is not an address such as 127\.0\.0\.1:8090/],
    [['lab', 'up', '--web', '--detach'], /^error: --web serves its page from the foreground lab: leave out --detach/],
    [['failover', '--web', '--matrix'], /^error: --web shows one run: leave out --matrix/],
    [['lab', 'stop', 'us-east1-b', '--signal', 'HUP'], /--signal.*expected kill, term or stop \(any case\)/],
    [['client', '--country', 'Iranx'], /--country.*not one of the 195 country names \(did you mean Iran\?\)/],
    [['bucket', 'generate', '--webdir', 'a/b'], /--webdir.*expected one folder name/],
    [['bucket', 'upload', '--from', '.', '--to', 'http://example.com/x'], /--to.*expected a gs:\/\/bucket\[\/prefix\] URL/],
    [['bucket', 'upload', '--from', '/nonexistent/zonelab', '--to', 'gs://b'], /--from.*expected an existing folder/],
    [['audit', '--bus', 'pubsub:projects/my-course-123/subscriptions/zonelab-audit', '--from-start'], /^error: --from-start works with sqlite only/],
    [['failover', '--kill', 'true'], /^error: --kill applies to --target only/],
    // The same suggestion wherever a name is expected: a typo, or the start of one name.
    [['failover', '--fault', 'partiton'], /--fault.*"partiton" is not one of kill, .* \(did you mean partition\?\)/],
    [['failover', '--profile', 'gcp'], /^zonelab: profile "gcp" does not exist; choose one of gcp-default, fast, zero-error \(did you mean gcp-default\?\)/],
    [['failover', '--matrix', '--profiles', 'gcp,fast'], /--profiles.*"gcp" is not one of the profiles \(gcp-default, fast, zero-error\) \(did you mean gcp-default\?\)/],
  ] as const) {
    it(`fails with one clear line: zonelab ${args.join(' ')}`, async () => {
      const { code, stderr } = await zonelab(...args);
      assert.notEqual(code, 0);
      assert.match(stderr, pattern);
      assert.doesNotMatch(stderr, /\n\s+at /, 'no stack trace for a user mistake');
    });
  }
});
