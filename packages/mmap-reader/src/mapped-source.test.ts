import { readdirSync, writeFileSync } from 'node:fs';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { records, writeSegment } from '../test/segments.js';
import { RUN_FRAMES } from './frame-source.js';
import { loadNative } from './native.js';
import { MmapWalReader } from './reader.js';

const threads = () => readdirSync('/proc/self/task').length;
const noAddon = loadNative().binding === null ? ' (skipped: no mmap addon)' : '';

let dir: string;
beforeEach(() => {
  dir = tempDir('walnut-mmap-');
});
afterEach(removeTempDirs);

/** Every record's LSN and payload, and where and why reading stopped. */
function readAll(path: string, mode: 'mmap' | 'read') {
  const reader = MmapWalReader.open(path, { mode });
  try {
    const seen = [...reader.records()].map((r) => `${r.lsn}:${r.payload.toString()}`);
    return { seen, stop: reader.stopReason };
  } finally {
    reader.close();
  }
}

describe.skipIf(noAddon !== '')(`runs of frames verified ahead, on a thread${noAddon}`, () => {
  const count = RUN_FRAMES * 3 + 100;

  it('hands out what read mode does over several runs, up to damage in a later run', () => {
    const seg = writeSegment(dir, { firstLsn: 1n, frames: records(count) });
    const whole = readAll(seg.path, 'mmap');
    expect(whole.seen).toHaveLength(count);
    expect(whole).toEqual(readAll(seg.path, 'read'));

    // A flipped byte in the third run: the records before it, then corrupt at its frame.
    const damaged = Buffer.from(seg.bytes);
    const at = seg.frameOffsets[RUN_FRAMES * 2 + 7]!;
    damaged[at + 12]! ^= 0x10;
    writeFileSync(seg.path, damaged);
    const mapped = readAll(seg.path, 'mmap');
    expect(mapped.seen).toHaveLength(RUN_FRAMES * 2 + 7);
    expect(mapped.stop).toMatchObject({ kind: 'corrupt', offset: at });
    expect(mapped).toEqual(readAll(seg.path, 'read'));
  });

  it('ends its thread at the last run, and at close() with a walk still queued', () => {
    const seg = writeSegment(dir, { firstLsn: 1n, frames: records(count) });
    const before = threads();
    const readers = Array.from({ length: 8 }, () => MmapWalReader.open(seg.path, { mode: 'mmap' }));
    for (const reader of readers) reader.nextRecord(); // the first run walked, the next queued
    expect(threads()).toBeGreaterThanOrEqual(before + 8);
    for (const reader of readers.slice(0, 4)) reader.close();
    for (const reader of readers.slice(4)) while (reader.nextRecord() !== null);
    // A few threads of the runtime's own may start meanwhile; eight readers' may not stay.
    expect(threads()).toBeLessThan(before + 4);
    for (const reader of readers.slice(4)) reader.close();
  });
});
