import { randomFillSync } from 'node:crypto';
import { v7 as uuidv7 } from 'uuid';

// Random bytes drawn from the system a few kilobytes at a time instead of 16 per id: the
// same source, a fraction of the system calls when many requests are refused.
const pool = Buffer.alloc(16 * 512);
let offset = pool.length;

/** A new event id: a UUIDv7, so ids sort by time. */
export function newEventId(): string {
  if (offset >= pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const random = pool.subarray(offset, offset + 16);
  offset += 16;
  return uuidv7({ random });
}
