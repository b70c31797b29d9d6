import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isZonelabError } from '../../src/errors.js';
import { uploadFolder } from '../../src/storage/index.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-stand-in.js';
import { makeTempBucket, type TempBucket } from '../helpers/temp-bucket.js';

describe('bucket upload against a local stand-in for the Cloud Storage API', () => {
  let standIn: GcsStandIn;
  let bucket: TempBucket;
  const previousHost = process.env.STORAGE_EMULATOR_HOST;

  before(async () => {
    standIn = await startGcsStandIn('zonelab-upload');
    process.env.STORAGE_EMULATOR_HOST = standIn.endpoint;
    bucket = await makeTempBucket(12);
  });
  after(async () => {
    if (previousHost === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = previousHost;
    await standIn.close();
    await bucket.remove();
  });

  it('uploads every file under its relative path and prefix, byte for byte', async () => {
    const progress: number[] = [];
    const result = await uploadFolder({ from: bucket.root, to: 'gs://zonelab-upload/site', concurrency: 4, onProgress: (n) => progress.push(n) });
    assert.equal(result.uploaded, 12);
    assert.equal(result.skipped, false);
    assert.deepEqual(standIn.names(), Array.from({ length: 12 }, (_, i) => `site/webdir/${i}.html`).sort());
    const { readFile } = await import('node:fs/promises');
    assert.deepEqual(standIn.get('site/webdir/7.html'), await readFile(`${bucket.root}/webdir/7.html`));
    assert.equal(progress.at(-1), 12);
  });

  it('--if-empty uploads nothing when the destination holds an object', async () => {
    const requestsBefore = standIn.requests.length;
    const result = await uploadFolder({ from: bucket.root, to: 'gs://zonelab-upload/site', ifEmpty: true });
    assert.deepEqual(result, { uploaded: 0, bytes: 0, skipped: true });
    assert.ok(standIn.requests.slice(requestsBefore).every((line) => line.startsWith('GET ')), 'only the listing was asked for');
    const elsewhere = await uploadFolder({ from: bucket.root, to: 'gs://zonelab-upload/other', ifEmpty: true });
    assert.equal(elsewhere.uploaded, 12, 'an empty prefix of the same bucket is filled');
  });

  it('refuses a destination that is not gs:// and a missing folder, in one line', async () => {
    await assert.rejects(uploadFolder({ from: bucket.root, to: '/tmp/x' }), (error) => isZonelabError(error, 'E_BAD_ARGUMENT') && /not a gs:\/\/bucket/.test(error.message));
    await assert.rejects(uploadFolder({ from: `${bucket.root}/missing`, to: 'gs://zonelab-upload' }), (error) => isZonelabError(error, 'E_BAD_ARGUMENT') && /is not a folder/.test(error.message));
  });

  it('reports a failing Cloud Storage as an error naming the object', async () => {
    standIn.failWith = 403;
    try {
      await assert.rejects(uploadFolder({ from: bucket.root, to: 'gs://zonelab-upload/denied', concurrency: 1 }), (error) => isZonelabError(error, 'E_UPLOAD') && /gs:\/\/zonelab-upload\/denied\/webdir\/0\.html/.test(error.message));
    } finally {
      standIn.failWith = null;
    }
  });
});
