import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  crc32c,
  encodeGaps,
  GAPS_FILE,
  segmentFileName,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { buildSegment, records, writeSegment } from '../test/segments.js';
import { replaySegmentsMmap, replaySegmentsMmapLimit } from './replay.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('walnut-mmap-');
});
afterEach(removeTempDirs);

/** Segments of 4, 4 and 2 records (LSNs 1..10), then an active segment from LSN 11 holding 3. */
function writeLog() {
  const sealed = [
    writeSegment(dir, { firstLsn: 1n, frames: records(4) }),
    writeSegment(dir, { firstLsn: 5n, frames: [...records(1), { batch: records(3) }] }),
    writeSegment(dir, { firstLsn: 9n, frames: records(2), tail: Buffer.alloc(256) }),
  ];
  const active = writeSegment(dir, { firstLsn: 11n, frames: records(3) });
  return { sealed, active };
}

function writeFloor(lsn: bigint) {
  const bytes = Buffer.alloc(12);
  bytes.writeBigUInt64LE(lsn, 0);
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, 8)), 8);
  writeFileSync(join(dir, 'FLOOR'), bytes);
}

describe.each(['mmap', 'read'] as const)('replaySegmentsMmap in %s mode', (mode) => {
  async function replay(fromLsn: bigint, options: { includeActive?: boolean } = {}) {
    const seen: WalRecord[] = [];
    const summary = await replaySegmentsMmap(dir, fromLsn, (r) => void seen.push(r), {
      mode,
      ...options,
    });
    return { lsns: seen.map((r) => r.lsn), seen, summary };
  }

  it('replays every sealed segment in LSN order and never touches the active one', async () => {
    writeLog();
    const { lsns, summary } = await replay(1n);
    expect(lsns).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 10n]);
    expect(summary).toEqual({ records: 10, nextLsn: 11n, segments: 3 });
  });

  it('takes the directory as a file: URL too', async () => {
    writeLog();
    const page = await replaySegmentsMmapLimit(pathToFileURL(dir), 1n, 3, { mode });
    expect(page.records.map((r) => r.lsn)).toEqual([1n, 2n, 3n]);
    let count = 0;
    await replaySegmentsMmap(pathToFileURL(dir), 1n, () => void count++, { mode });
    expect(count).toBe(10);
  });

  it('reads the active segment too with includeActive', async () => {
    writeLog();
    const { lsns, summary } = await replay(9n, { includeActive: true });
    expect(lsns).toEqual([9n, 10n, 11n, 12n, 13n]);
    expect(summary.segments).toBe(2);
  });

  it('starts inside the segment that holds fromLsn, without opening earlier ones', async () => {
    writeLog();
    const { lsns, summary } = await replay(6n);
    expect(lsns).toEqual([6n, 7n, 8n, 9n, 10n]);
    expect(summary.segments).toBe(2);
  });

  it('replays nothing from the active segment on, or from an empty directory', async () => {
    writeLog();
    expect((await replay(11n)).summary).toEqual({ records: 0, nextLsn: 11n, segments: 0 });
    dir = tempDir('walnut-mmap-');
    expect((await replay(1n)).summary).toEqual({ records: 0, nextLsn: 1n, segments: 0 });
  });

  it('awaits a callback that returns a promise before the next record', async () => {
    writeLog();
    const order: string[] = [];
    await replaySegmentsMmap(
      dir,
      8n,
      async (r) => {
        order.push(`start ${r.lsn}`);
        await new Promise((resolve) => setTimeout(resolve, 1));
        order.push(`end ${r.lsn}`);
      },
      { mode },
    );
    expect(order).toEqual(['start 8', 'end 8', 'start 9', 'end 9', 'start 10', 'end 10']);
  });

  describe('the retained floor', () => {
    it('refuses to replay below the FLOOR file with WAL_REPLAY_BELOW_FLOOR', async () => {
      writeLog();
      writeFloor(3n);
      await expectWalError(replay(2n), WalErrorCode.REPLAY_BELOW_FLOOR);
      expect((await replay(3n)).lsns[0]).toBe(3n);
    });

    it("without a FLOOR file the floor is the first segment's first LSN", async () => {
      const { sealed } = writeLog();
      rmSync(sealed[0]!.path);
      await expectWalError(replay(4n), WalErrorCode.REPLAY_BELOW_FLOOR);
      expect((await replay(5n)).lsns).toEqual([5n, 6n, 7n, 8n, 9n, 10n]);
    });

    it('a damaged FLOOR file is WAL_CORRUPT', async () => {
      writeLog();
      writeFloor(3n);
      const path = join(dir, 'FLOOR');
      const bytes = readFileSync(path);
      bytes[0]! ^= 1;
      writeFileSync(path, bytes);
      await expectWalError(replay(5n), WalErrorCode.CORRUPT);
    });

    it('records between the floor and the first segment are missing', async () => {
      const { sealed } = writeLog();
      rmSync(sealed[0]!.path);
      writeFloor(2n);
      await expectWalError(replay(2n), WalErrorCode.MISSING_SEGMENT);
    });
  });

  describe('damage', () => {
    it('corruption in a sealed segment is WAL_CORRUPT naming segment and offset', async () => {
      const { sealed } = writeLog();
      const seg = sealed[1]!;
      const bytes = readFileSync(seg.path);
      bytes[seg.frameOffsets[0]! + 20]! ^= 1;
      writeFileSync(seg.path, bytes);
      const seen: bigint[] = [];
      const error = await expectWalError(
        replaySegmentsMmap(dir, 1n, (r) => void seen.push(r.lsn), { mode }),
        WalErrorCode.CORRUPT,
      );
      expect(error).toMatchObject({
        details: { segment: seg.path, offset: seg.frameOffsets[0], kind: 'corrupt' },
      });
      expect(seen).toEqual([1n, 2n, 3n, 4n]);
    });

    it('a torn tail in a sealed segment is WAL_CORRUPT too (it was complete when sealed)', async () => {
      const { sealed } = writeLog();
      const seg = sealed[2]!;
      writeFileSync(seg.path, readFileSync(seg.path).subarray(0, seg.end - 3));
      expect(await expectWalError(replay(1n), WalErrorCode.CORRUPT)).toMatchObject({
        details: { segment: seg.path, offset: seg.frameOffsets[1], kind: 'torn' },
      });
    });

    it('a torn tail in the active segment ends replay cleanly with includeActive', async () => {
      const { active } = writeLog();
      writeFileSync(active.path, readFileSync(active.path).subarray(0, active.end - 3));
      expect((await replay(10n, { includeActive: true })).lsns).toEqual([10n, 11n, 12n]);
    });

    it('a missing middle segment is WAL_CORRUPT where the segment before it ends, before any later record', async () => {
      const { sealed } = writeLog();
      rmSync(sealed[1]!.path);
      const seen: bigint[] = [];
      const replaying = replaySegmentsMmap(dir, 1n, (r) => void seen.push(r.lsn), { mode });
      expect(await expectWalError(replaying, WalErrorCode.CORRUPT)).toMatchObject({
        details: { segment: sealed[0]!.path, offset: statSync(sealed[0]!.path).size },
      });
      await expect(replaying).rejects.toThrow(/LSNs up to 8/);
      expect(seen).toEqual([1n, 2n, 3n, 4n]);
    });

    it('skips the LSNs a salvage recorded as lost in GAPS, and only those', async () => {
      const { sealed } = writeLog();
      rmSync(sealed[1]!.path);
      writeFileSync(join(dir, GAPS_FILE), encodeGaps([{ from: 5n, to: 8n }]));
      expect((await replay(1n)).lsns).toEqual([1n, 2n, 3n, 4n, 9n, 10n]);
      expect((await replay(6n)).lsns).toEqual([9n, 10n]);
      writeFileSync(join(dir, GAPS_FILE), encodeGaps([{ from: 5n, to: 7n }]));
      await expectWalError(replay(1n), WalErrorCode.MISSING_SEGMENT);
    });

    it('a sealed segment cut at a frame boundary is WAL_CORRUPT where it ends', async () => {
      const { sealed } = writeLog();
      const seg = sealed[2]!;
      writeFileSync(seg.path, readFileSync(seg.path).subarray(0, seg.frameOffsets[1]));
      expect(await expectWalError(replay(1n), WalErrorCode.CORRUPT)).toMatchObject({
        details: { segment: seg.path, offset: seg.frameOffsets[1] },
      });
    });

    it("a sealed segment holding LSNs past its successor's first is WAL_CORRUPT at the first of them", async () => {
      const { sealed } = writeLog();
      const longer = writeSegment(dir, { firstLsn: 5n, frames: records(5) });
      const seen: bigint[] = [];
      const replaying = replaySegmentsMmap(dir, 1n, (r) => void seen.push(r.lsn), { mode });
      expect(await expectWalError(replaying, WalErrorCode.CORRUPT)).toMatchObject({
        details: { segment: sealed[1]!.path, offset: longer.frameOffsets[4] },
      });
      expect(seen).toEqual([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n]);
    });

    it('a segment whose header disagrees with its name is WAL_CORRUPT', async () => {
      writeLog();
      const path = join(dir, segmentFileName(5n));
      writeFileSync(path, buildSegment({ firstLsn: 6n, frames: records(3) }).bytes);
      expect(await expectWalError(replay(1n), WalErrorCode.CORRUPT)).toMatchObject({
        details: { segment: path, offset: 0 },
      });
    });

    it('a missing directory is WAL_IO', async () => {
      await expectWalError(
        replaySegmentsMmap(join(dir, 'nope'), 1n, () => {}, { mode }),
        WalErrorCode.IO,
      );
    });
  });

  describe('replaySegmentsMmapLimit', () => {
    it('pages through the sealed segments with nextLsn and hasMore', async () => {
      writeLog();
      const pages: bigint[][] = [];
      let from = 1n;
      for (;;) {
        const page = await replaySegmentsMmapLimit(dir, from, 3, { mode });
        pages.push(page.records.map((r) => r.lsn));
        from = page.nextLsn;
        if (!page.hasMore) break;
      }
      expect(pages).toEqual([[1n, 2n, 3n], [4n, 5n, 6n], [7n, 8n, 9n], [10n]]);
      expect(from).toBe(11n);
    });

    it('says there is no more when the page ends exactly at the last sealed record', async () => {
      writeLog();
      const page = await replaySegmentsMmapLimit(dir, 7n, 4, { mode });
      expect(page.records.map((r) => r.lsn)).toEqual([7n, 8n, 9n, 10n]);
      expect(page).toMatchObject({ hasMore: false, nextLsn: 11n });
    });

    it('returns an empty page at the end, with nextLsn = fromLsn', async () => {
      writeLog();
      expect(await replaySegmentsMmapLimit(dir, 11n, 5, { mode })).toEqual({
        records: [],
        hasMore: false,
        nextLsn: 11n,
      });
    });

    it('rejects a max that is not a positive integer', async () => {
      writeLog();
      await expectWalError(
        replaySegmentsMmapLimit(dir, 1n, 0, { mode }),
        WalErrorCode.BAD_ARGUMENT,
      );
    });
  });

  it('rejects a fromLsn that is not a bigint ≥ 1', async () => {
    writeLog();
    await expectWalError(replay(0n), WalErrorCode.BAD_ARGUMENT);
    await expectWalError(replay(1 as unknown as bigint), WalErrorCode.BAD_ARGUMENT);
  });
});
