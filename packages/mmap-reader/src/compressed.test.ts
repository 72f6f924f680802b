import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  decodeFileHeader,
  encodeFileHeader,
  segmentFileName,
  type WalRecord,
  zstdImplementation,
} from '@walnut/codec';
import { compressedLog, compressedLogRecords } from '@walnut/codec/testing';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MmapWalReader } from './reader.js';
import { replaySegmentsMmap } from './replay.js';

afterEach(removeTempDirs);

/**
 * The golden compressed log (a Wal wrote it on Node 22) in a directory of its own, sealed by
 * an empty segment after it (a replay reads sealed segments only).
 */
function golden(): { dir: string; path: string } {
  const dir = tempDir('walnut-mmap-compressed-');
  const { name, bytes, lastLsn } = compressedLog();
  const path = join(dir, name);
  writeFileSync(path, bytes);
  const header = decodeFileHeader(bytes);
  const next = encodeFileHeader({ ...header, firstLsn: lastLsn + 1n });
  writeFileSync(join(dir, segmentFileName(lastLsn + 1n)), next);
  return { dir, path };
}

const expected = () => compressedLogRecords().map((r) => [r.lsn, r.payload.toString()]);

describe(`mmap-reader on a compressed segment (decoder ${zstdImplementation().decoder})`, () => {
  it('reads every record, in order, through nextRecord and drain', () => {
    const { path } = golden();
    const reader = MmapWalReader.open(path);
    const read: WalRecord[] = [];
    for (let r = reader.nextRecord(); r !== null; r = reader.nextRecord()) read.push(r);
    expect(read.map((r) => [r.lsn, r.payload.toString()])).toEqual(expected());
    expect(read[20]!.meta?.toString()).toBe('meta of 21');
    expect(read[22]!.tenantId).toBe(7n);
    expect(reader.stopReason?.kind).toBe('eof');
    reader.close();
    const drained: WalRecord[] = [];
    const again = MmapWalReader.open(path);
    again.drain((r) => {
      drained.push(r);
    });
    again.close();
    expect(drained.map((r) => r.lsn)).toEqual(read.map((r) => r.lsn));
  });

  it('replays a sealed compressed segment of a log directory', async () => {
    const { dir } = golden();
    const kept: WalRecord[] = [];
    const summary = await replaySegmentsMmap(dir, 3n, (r) => {
      kept.push(r);
    });
    expect(summary.records).toBe(30);
    expect(kept.map((r) => [r.lsn, r.payload.toString()])).toEqual(expected().slice(2));
  });
});
