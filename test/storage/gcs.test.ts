import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isZonelabError } from '../../src/errors.js';
import { handleRequest } from '../../src/server/index.js';
import { createGcsStore, type ObjectStore, STORAGE_UNAVAILABLE } from '../../src/storage/index.js';
import { type GcsStandIn, startGcsStandIn } from '../helpers/gcs-stand-in.js';

describe('GCS adapter against a local stand-in for the Cloud Storage API', () => {
  let standIn: GcsStandIn;
  let store: ObjectStore;
  const previousHost = process.env.STORAGE_EMULATOR_HOST;

  before(async () => {
    standIn = await startGcsStandIn('zonelab-pages');
    standIn.put('site/webdir/1.html', '<p>one</p>');
    standIn.put('top.txt', 'top', 'text/plain');
    process.env.STORAGE_EMULATOR_HOST = standIn.endpoint;
    store = await createGcsStore({ bucket: 'zonelab-pages', prefix: 'site' });
  });
  after(async () => {
    if (previousHost === undefined) delete process.env.STORAGE_EMULATOR_HOST;
    else process.env.STORAGE_EMULATOR_HOST = previousHost;
    await standIn.close();
  });

  it('reads an object under the prefix, with its metadata', async () => {
    const object = await store.get('webdir/1.html');
    assert.ok(object);
    assert.equal(object.body.toString(), '<p>one</p>');
    assert.equal(object.meta.size, 10);
    assert.equal(object.meta.contentType, 'text/html');
    assert.match(object.meta.etag, /^"\d+"$/);
    assert.equal(store.bucketName, 'zonelab-pages');
    assert.equal(store.location, 'gs://zonelab-pages/site');
    // The body is asked for at the generation the metadata described.
    assert.ok(standIn.requests.some((line) => line.includes('alt=media') && line.includes('generation=')), standIn.requests.join('\n'));
  });

  it('changes the ETag when the object is overwritten', async () => {
    const before = await store.stat('webdir/1.html');
    standIn.put('site/webdir/1.html', '<p>uno</p>');
    const afterWrite = await store.stat('webdir/1.html');
    assert.notEqual(before?.etag, afterWrite?.etag);
  });

  it('maps a missing object to null and a server answering 404 through the rules', async () => {
    assert.equal(await store.get('webdir/404.html'), null);
    const response = await handleRequest(
      { method: 'GET', target: '/zonelab-pages/webdir/404.html', headers: {}, remoteAddress: '127.0.0.1' },
      { store, sink: { report: async () => {}, close: async () => {} }, zone: 'z', instance: 'i', isDraining: () => false },
    );
    assert.equal(response.status, 404);
  });

  it('maps a failing Cloud Storage to E_STORAGE_UNAVAILABLE and the server to 503', async () => {
    standIn.failWith = 503;
    try {
      await assert.rejects(store.get('webdir/1.html'), (error) => isZonelabError(error, STORAGE_UNAVAILABLE));
      standIn.failWith = 403;
      const response = await handleRequest(
        { method: 'GET', target: '/zonelab-pages/webdir/1.html', headers: {}, remoteAddress: '127.0.0.1' },
        { store, sink: { report: async () => {}, close: async () => {} }, zone: 'z', instance: 'i', isDraining: () => false },
      );
      assert.equal(response.status, 503);
      assert.equal(response.log?.severity, 'error');
      assert.ok(response.log?.cause);
    } finally {
      standIn.failWith = null;
    }
  });

  it('refuses a bucket that does not exist at construction', async () => {
    await assert.rejects(createGcsStore({ bucket: 'no-such-bucket' }), (error) => isZonelabError(error, 'E_BUCKET_NOT_FOUND'));
  });

  it('refuses an invalid bucket name before any request', async () => {
    await assert.rejects(createGcsStore({ bucket: 'Bad_Name!' }), (error) => isZonelabError(error, 'E_BAD_BUCKET'));
  });
});
