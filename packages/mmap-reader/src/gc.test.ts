import { readFileSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MmapWalReader } from './reader.js';
import { records, tempDir, writeSegment } from './testing/segments.js';

// These tests force full collections. Vitest's worker options are global to the whole
// workspace, so instead of --expose-gc on the command line the flag is set here, and a
// fresh context picks up the `gc` function it exposes.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let dir: string;
let cleanup: () => void;
beforeEach(() => {
  ({ dir, cleanup } = tempDir());
});
afterEach(() => cleanup());

function isMapped(path: string): boolean {
  return readFileSync('/proc/self/maps', 'utf8').includes(path);
}

/** Full collections until `done()` holds (finalizers run after a collection, on the event loop). */
async function collectUntil(done: () => boolean): Promise<boolean> {
  for (let i = 0; i < 50 && !done(); i++) {
    gc();
    await tick();
  }
  return done();
}

/** Opens, reads and drops a reader, returning only the payload views. */
function payloadsOf(path: string): Buffer[] {
  const reader = MmapWalReader.open(path, { mode: 'mmap' });
  return [...reader.records()].map((r) => r.payload);
}

it('views outlive their reader: the mapping stays until the last view is collected', async () => {
  const { path } = writeSegment(dir, { firstLsn: 1n, frames: records(100) });
  let payloads: Buffer[] | null = payloadsOf(path);
  // The reader is unreachable now; many collections later its views still read the file's bytes.
  for (let i = 0; i < 5; i++) {
    gc();
    await tick();
  }
  expect(isMapped(path)).toBe(true);
  expect(payloads.map((p) => p.toString())).toEqual(records(100).map((r) => r.payload.toString()));
  // Dropping the last view lets the collector unmap the file.
  payloads = null;
  expect(await collectUntil(() => !isMapped(path))).toBe(true);
});

it('a single retained view keeps the mapping alive', async () => {
  const { path } = writeSegment(dir, { firstLsn: 1n, frames: records(10) });
  let kept: Buffer | null = payloadsOf(path)[7]!;
  for (let i = 0; i < 5; i++) {
    gc();
    await tick();
  }
  expect(kept.toString()).toBe('payload-7');
  kept = null;
  expect(await collectUntil(() => !isMapped(path))).toBe(true);
});
