import { WalErrorCode } from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';
import { records, writeSegment } from '../test/segments.js';
import { describeMmapSupport } from './mode.js';
import { MmapWalReader } from './reader.js';
import { replaySegmentsMmap } from './replay.js';

// As on a machine where the addon did not build: loading it fails.
vi.mock('./native.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('./native.js')>()),
  loadNative: () => ({
    binding: null,
    reason: 'the native addon did not load from /pkg (Cannot find module walnut_mmap.node)',
    disabled: false,
  }),
}));

let dir: string;
beforeAll(() => {
  dir = tempDir('walnut-mmap-');
});
afterAll(removeTempDirs);

it('auto mode reads files and records why', async () => {
  const { path } = writeSegment(dir, { firstLsn: 1n, frames: records(3) });
  writeSegment(dir, { firstLsn: 4n, frames: [] });
  const reader = MmapWalReader.open(path);
  expect(reader.mode).toBe('read');
  expect(reader.modeReason).toMatch(/did not load .*\(Cannot find module walnut_mmap.node\)/);
  expect([...reader.records()].map((r) => r.lsn)).toEqual([1n, 2n, 3n]);
  expect(describeMmapSupport()).toMatchObject({
    addonLoaded: false,
    autoMode: 'read',
    loadError: expect.stringContaining('Cannot find module walnut_mmap.node'),
  });
  const summary = await replaySegmentsMmap(dir, 1n, () => {});
  expect(summary).toEqual({ records: 3, nextLsn: 4n, segments: 1, cutGeneration: 0n });
});

it("mode 'mmap' is WAL_BACKEND_UNAVAILABLE, naming the load error", () => {
  const { path } = writeSegment(dir, { firstLsn: 10n, frames: records(1) });
  expect(
    expectWalError(
      () => MmapWalReader.open(path, { mode: 'mmap' }),
      WalErrorCode.BACKEND_UNAVAILABLE,
    ),
  ).toMatchObject({ message: expect.stringMatching(/walnut_mmap.node/) });
});
