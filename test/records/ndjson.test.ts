import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isZonelabError } from '../../src/errors.js';
import { openNdjsonFile, readNdjsonFile } from '../../src/records/index.js';

describe('NDJSON files (real files in a temp folder)', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'zonelab-ndjson-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('reads back, line by line, every record written (20,000, some with multi-byte text)', async () => {
    const path = join(dir, 'records.ndjson');
    const file = await openNdjsonFile<{ seq: number; text: string }>(path);
    for (let seq = 0; seq < 20_000; seq++) file.write({ seq, text: 'é'.repeat(seq % 7) });
    await file.close();
    const records = await readNdjsonFile<{ seq: number; text: string }>(path);
    assert.equal(records.length, 20_000);
    assert.deepEqual(records[19_999], { seq: 19_999, text: 'é'.repeat(19_999 % 7) });
  });

  it('skips blank lines, names the line that is not JSON, and calls a missing file not a run', async () => {
    const path = join(dir, 'broken.ndjson');
    await writeFile(path, '{"a":1}\r\n\n{"a":2}\n{"a":\n');
    await assert.rejects(readNdjsonFile(path), (error: unknown) => isZonelabError(error, 'E_BAD_RECORD') && /broken\.ndjson line 4 is not JSON$/.test((error as Error).message));
    await writeFile(path, '{"a":1}\r\n\n{"a":2}\n');
    assert.deepEqual(await readNdjsonFile(path), [{ a: 1 }, { a: 2 }]);
    await assert.rejects(readNdjsonFile(join(dir, 'none.ndjson')), (error: unknown) => isZonelabError(error, 'E_NO_RUN'));
  });
});
