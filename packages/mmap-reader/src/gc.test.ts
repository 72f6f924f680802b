import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setImmediate as tick } from 'node:timers/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { records, writeSegment } from '../test/segments.js';
import { loadNative } from './native.js';
import { MmapWalReader } from './reader.js';

// These tests force full collections. Vitest's worker options are global to the whole
// workspace, so for the reader tests the flag is set here and a fresh context picks up the
// `gc` function it exposes; the last test runs the bare addon in a child started with
// --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let dir: string;
beforeEach(() => {
  dir = tempDir('walnut-mmap-');
});
afterEach(removeTempDirs);

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

it('the same holds for the bare addon in a child process started with --expose-gc', () => {
  const { path } = writeSegment(dir, { firstLsn: 1n, frames: records(10) });
  const native = loadNative();
  if (native.binding === null)
    throw new Error(`the native addon must build for this test: ${native.reason}`);
  // Plain CommonJS, so the child needs no TypeScript build: map, keep only a view, collect.
  const script = `
    const { readFileSync } = require('node:fs');
    const addon = require(${JSON.stringify(native.path)});
    const path = ${JSON.stringify(path)};
    const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes(path);
    let view = (() => new Uint8Array(addon.mapFile(path)[0], 64, 8))();
    const before = Array.from(readFileSync(path).subarray(64, 72));
    (async () => {
      for (let i = 0; i < 5; i++) { gc(); await new Promise(setImmediate); }
      const kept = mapped() && Array.from(view).join() === before.join();
      view = null;
      for (let i = 0; i < 50 && mapped(); i++) { gc(); await new Promise(setImmediate); }
      process.stdout.write(JSON.stringify({ kept, unmapped: !mapped() }));
    })();
  `;
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', script], { encoding: 'utf8' });
  expect(JSON.parse(out)).toEqual({ kept: true, unmapped: true });
});
