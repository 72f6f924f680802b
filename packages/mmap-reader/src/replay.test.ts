import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  CUT_FILE,
  crc32c,
  encodeCut,
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

/**
 * What a writer's `truncateAfter(afterLsn)` leaves of the log writeLog wrote, with the new
 * history after it: CUT of `generation`, the segment holding `afterLsn` cut there (a new
 * file in its place, as the writer's copy and rename makes, so a reader's open file or
 * mapping keeps the old one), the
 * later ones deleted, then new records `afterLsn + 1`..13 ("new-…") in two segments.
 */
function cutLog(afterLsn: bigint, generation = 1n) {
  writeFileSync(
    join(dir, CUT_FILE),
    encodeCut({ afterLsn, segmentFirstLsn: 1n, keepBytes: 0, generation, state: 'done' }),
  );
  for (const first of [1n, 5n, 9n, 11n]) rmSync(join(dir, segmentFileName(first)), { force: true });
  const fresh = (from: bigint, to: bigint) =>
    Array.from({ length: Number(to - from + 1n) }, (_, i) => ({
      payload: Buffer.from(`${from + BigInt(i) <= afterLsn ? 'payload' : 'new'}-${i}`),
    }));
  writeSegment(dir, { firstLsn: 1n, frames: fresh(1n, 8n) });
  writeSegment(dir, { firstLsn: 9n, frames: fresh(9n, 10n) });
  writeSegment(dir, { firstLsn: 11n, frames: fresh(11n, 13n) });
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
    expect(summary).toEqual({ records: 10, nextLsn: 11n, segments: 3, cutGeneration: 0n });
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
    expect((await replay(11n)).summary).toEqual({
      records: 0,
      nextLsn: 11n,
      segments: 0,
      cutGeneration: 0n,
    });
    dir = tempDir('walnut-mmap-');
    expect((await replay(1n)).summary).toEqual({
      records: 0,
      nextLsn: 1n,
      segments: 0,
      cutGeneration: 0n,
    });
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
      // It must reach the LSN before its successor's first: ending short, torn, it was cut.
      expect(await expectWalError(replay(1n), WalErrorCode.CORRUPT)).toMatchObject({
        details: { segment: seg.path, offset: seg.frameOffsets[1], kind: 'corrupt' },
        message: expect.stringContaining('LSNs 10..10 are missing'),
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
        cutGeneration: 0n,
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

  describe('beside a writer that cuts the log (truncateAfter) while it reads', () => {
    async function replayCutting(atLsn: bigint, cut: () => void) {
      const seen: string[] = [];
      const error = await expectWalError(
        replaySegmentsMmap(
          dir,
          1n,
          (r) => {
            seen.push(`${r.lsn}:${r.payload}`);
            if (r.lsn === atLsn) cut();
          },
          { mode },
        ),
        WalErrorCode.TRUNCATED,
      );
      return { error, seen };
    }

    it('stops with WAL_TRUNCATED at the next segment, never handing out the new history', async () => {
      writeLog();
      const { error, seen } = await replayCutting(2n, () => cutLog(2n));
      // Segment 1 was open (LSNs 1–4 of the old history): the cut is seen at segment 5.
      expect(seen).toEqual(['1:payload-0', '2:payload-1', '3:payload-2', '4:payload-3']);
      expect(error.details).toMatchObject({ lsn: 2n, handedOut: 4n, cuts: 1n });
      expect(error.message).toContain(
        'the records after LSN 2 it handed out (up to 4) belong to the history the cut removed; drop them and replay again from 3',
      );
    });

    it('says nothing it handed out was cut when the cut lies above them', async () => {
      writeLog();
      const { error, seen } = await replayCutting(3n, () => cutLog(6n));
      expect(seen).toHaveLength(4);
      expect(error.message).toContain('nothing it handed out was cut; replay again from 5');
    });

    it('looks at the end too: a cut while it read the last sealed segment', async () => {
      writeLog();
      const { error, seen } = await replayCutting(9n, () =>
        writeFileSync(
          join(dir, CUT_FILE),
          encodeCut({
            afterLsn: 9n,
            segmentFirstLsn: 9n,
            keepBytes: 0,
            generation: 1n,
            state: 'pending',
          }),
        ),
      );
      expect(seen).toHaveLength(10);
      expect(error.details).toMatchObject({ lsn: 9n, handedOut: 10n });
    });

    it('pages: goes on after a cut that kept what earlier pages handed out, refuses one that did not', async () => {
      writeLog();
      const first = await replaySegmentsMmapLimit(dir, 1n, 3, { mode });
      expect(first).toMatchObject({ nextLsn: 4n, cutGeneration: 0n });
      cutLog(6n);
      const kept = await replaySegmentsMmapLimit(dir, first.nextLsn, 3, {
        mode,
        cutGeneration: first.cutGeneration,
      });
      expect(kept.records.map((r) => r.payload.toString())).toEqual([
        'payload-3',
        'payload-4',
        'payload-5',
      ]);
      expect(kept.cutGeneration).toBe(1n);
      cutLog(5n, 2n);
      const refused = await expectWalError(
        replaySegmentsMmapLimit(dir, kept.nextLsn, 3, { mode, cutGeneration: kept.cutGeneration }),
        WalErrorCode.TRUNCATED,
      );
      expect(refused.details).toMatchObject({ lsn: 5n, handedOut: 6n });
      cutLog(7n, 4n);
      const twice = await expectWalError(
        replaySegmentsMmapLimit(dir, 4n, 3, { mode, cutGeneration: 2n }),
        WalErrorCode.TRUNCATED,
      );
      // The test's CUT files remember only their own cut: the lowest of the two is not known.
      expect(twice.message).toContain('2 times while this replay read it');
      expect(twice.message).toContain('the lowest cut is not known');
    });

    it('pages: names the lowest of the cuts made since, as the CUT file remembers them', async () => {
      writeLog();
      const first = await replaySegmentsMmapLimit(dir, 1n, 3, { mode });
      cutLog(6n, 2n);
      // Two cuts since the first page: after LSN 2, then after 6 (the CUT file's own).
      writeFileSync(
        join(dir, CUT_FILE),
        encodeCut({
          afterLsn: 6n,
          segmentFirstLsn: 1n,
          keepBytes: 0,
          generation: 2n,
          state: 'done',
          recent: [2n, 6n],
        }),
      );
      const refused = await expectWalError(
        replaySegmentsMmapLimit(dir, first.nextLsn, 3, { mode, cutGeneration: 0n }),
        WalErrorCode.TRUNCATED,
      );
      expect(refused.details).toMatchObject({ lsn: 2n, handedOut: 3n, cutGeneration: 2n });
      expect(refused.message).toContain('after LSN 2, the lowest of 2 cuts');
    });

    it('starts only once a cut under way is done, and reads the log it left', async () => {
      writeLog();
      // The writer has recorded its cut after LSN 6 and not yet touched a file.
      writeFileSync(
        join(dir, CUT_FILE),
        encodeCut({
          afterLsn: 6n,
          segmentFirstLsn: 1n,
          keepBytes: 0,
          generation: 1n,
          state: 'pending',
        }),
      );
      const finishing = new Promise((resolve) => setTimeout(resolve, 50)).then(() => cutLog(6n));
      const seen: string[] = [];
      const summary = await replaySegmentsMmap(
        dir,
        5n,
        (r) => void seen.push(`${r.lsn}:${r.payload}`),
        {
          mode,
        },
      );
      await finishing;
      expect(seen).toEqual([
        '5:payload-4',
        '6:payload-5',
        '7:new-6',
        '8:new-7',
        '9:new-0',
        '10:new-1',
      ]);
      expect(summary.cutGeneration).toBe(1n);
    });

    it('says the floor rose when the writer deleted the segments ahead (truncateBefore)', async () => {
      writeLog();
      const error = await expectWalError(
        replaySegmentsMmap(
          dir,
          1n,
          (r) => {
            if (r.lsn !== 2n) return;
            writeFloor(9n);
            rmSync(join(dir, segmentFileName(5n)));
          },
          { mode },
        ),
        WalErrorCode.REPLAY_BELOW_FLOOR,
      );
      expect(error.message).toContain('the floor is now 9');
      expect(error.message).toContain('replay again from 9');
    });
  });

  it('refuses an option it does not know, naming the one meant', async () => {
    writeLog();
    const error = await expectWalError(
      replaySegmentsMmap(dir, 1n, () => undefined, { mode, includeactive: true } as never),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toContain('includeActive');
  });

  it('rejects a fromLsn that is not a bigint ≥ 1', async () => {
    writeLog();
    await expectWalError(replay(0n), WalErrorCode.BAD_ARGUMENT);
    await expectWalError(replay(1 as unknown as bigint), WalErrorCode.BAD_ARGUMENT);
  });
});

describe('replaySegmentsMmap over records that never wait for I/O', () => {
  it('lets the event loop turn while fn works, between runs of frames, not only at its end', async () => {
    // One sealed segment of 20,000 records (then the active one), 5 runs of at most 4096.
    const count = 20_000;
    writeSegment(dir, { firstLsn: 1n, frames: records(count, 100) });
    writeSegment(dir, { firstLsn: BigInt(count + 1), frames: records(1) });
    let handedOut = 0;
    const turns: number[] = [];
    const tick = () => {
      turns.push(handedOut);
      if (handedOut < count) setTimeout(tick, 0);
    };
    await replaySegmentsMmap(dir, 1n, () => {
      if (handedOut++ === 0) setTimeout(tick, 0);
      // 5 µs of work per record, 100 ms in all: several slices.
      const end = performance.now() + 0.005;
      while (performance.now() < end);
    });
    expect(handedOut).toBe(count);
    expect(turns.length).toBeGreaterThanOrEqual(2);
    expect(turns[0]).toBeLessThan(count / 2);
  });
});
