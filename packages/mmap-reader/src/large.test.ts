import { closeSync, ftruncateSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { segmentFileName } from '@walnut/codec';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { buildSegment, records } from '../test/segments.js';
import { MmapWalReader } from './reader.js';
import { replaySegmentsMmap } from './replay.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

let dir: string;
beforeEach(() => {
  dir = tempDir('walnut-mmap-');
});
afterEach(removeTempDirs);

/** A 1 GiB sparse segment: 20,000 records of 1 KiB at the front, then a hole (reads as zeros). */
function writeSparseSegment(): { path: string; end: number } {
  const built = buildSegment({ firstLsn: 1n, frames: records(20_000, 1024) });
  const path = join(dir, segmentFileName(1n));
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, built.bytes);
    ftruncateSync(fd, GiB);
  } finally {
    closeSync(fd);
  }
  return { path, end: built.end };
}

it('maps and iterates a 1 GiB sparse segment without reading it into memory', async () => {
  const { path, end } = writeSparseSegment();
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = process.memoryUsage().heapUsed;
  const reader = MmapWalReader.open(path, { mode: 'mmap' });
  expect(reader.length).toBe(GiB);
  let count = 0;
  let touched = 0;
  for (const record of reader.records()) {
    touched += record.payload[1023]!;
    count++;
  }
  expect(count).toBe(20_000);
  expect(touched).toBeGreaterThan(0);
  // The hole after the records is judged zero without faulting it in.
  expect(reader.stopReason).toMatchObject({ kind: 'eof', offset: end });
  const rssGrowth = process.memoryUsage().rss - rssBefore;
  const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
  expect(rssGrowth).toBeLessThan(96 * MiB);
  expect(heapGrowth).toBeLessThan(64 * MiB);
});

it('replays a directory holding a 1 GiB sparse sealed segment', async () => {
  writeSparseSegment();
  buildSegment({ firstLsn: 20_001n, frames: [] });
  const active = join(dir, segmentFileName(20_001n));
  closeSync(openSync(active, 'w'));
  const rssBefore = process.memoryUsage().rss;
  const summary = await replaySegmentsMmap(dir, 1n, () => {}, { mode: 'mmap' });
  expect(summary).toEqual({ records: 20_000, nextLsn: 20_001n, segments: 1, cutGeneration: 0n });
  expect(process.memoryUsage().rss - rssBefore).toBeLessThan(96 * MiB);
});
