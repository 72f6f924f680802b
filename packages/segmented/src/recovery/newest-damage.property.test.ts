import {
  BodyKind,
  DURABLE_MARK_SIZE,
  durableMarkEnd,
  FILE_HEADER_SIZE,
  FrameScanner,
  isWalError,
  WalErrorCode,
} from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

// Issue 57 item 6: damage to the newest segment of a closed, fully synced log. The default
// open keeps every record whose frame came through intact, or refuses with WAL_CORRUPT
// naming the segment and the damaged frame; it never cuts intact synced frames silently.

type Damage =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'zero'; at: number; atFrame: boolean; length: number }
  | { kind: 'truncate'; at: number };

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  // Half of the zeroed runs start exactly at a frame's header, the case the issue found.
  fc.record({
    kind: fc.constant('zero' as const),
    at: fc.nat(),
    atFrame: fc.boolean(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

interface Frame {
  start: number;
  end: number;
  lsn: bigint;
}

interface Mark {
  at: number;
  durableEnd: number;
}

/**
 * A synced log of `records` records of 100 bytes. `killed`: one sync round per record in
 * one segment, and the file as a writer SIGKILLed after its last round leaves it (no mark
 * at close: only the marks it put among its frames as its syncs went on).
 */
async function syncedLog(records: number, killed = false) {
  const io = new MemoryStorageIo();
  const wal = await openMemory(io, { segmentTargetSize: killed ? 64 << 10 : 4096 });
  for (let i = 1n; i <= BigInt(records); i++) {
    wal.append({ payload: payloadFor(i, 100) });
    if (killed) await wal.sync();
  }
  await wal.sync();
  const segments = await wal.listSegments();
  await wal.close();
  const path = segments.at(-1)!.path;
  let bytes = Buffer.from(io.fileBytes(path)!);
  const scanner = new FrameScanner(bytes, { start: FILE_HEADER_SIZE });
  const frames: Frame[] = [];
  const marks: Mark[] = [];
  while (scanner.advanceFrame()) {
    const body = scanner.frameBodyStart;
    if (scanner.frameBuffer[body] === BodyKind.RECORD) {
      const lsn = scanner.frameBuffer.readBigUInt64LE(body + 4);
      frames.push({ start: scanner.frameOffset, end: scanner.offset, lsn });
    } else {
      const durableEnd = durableMarkEnd(scanner.frameBuffer, body, scanner.offset);
      if (durableEnd >= 0) marks.push({ at: scanner.frameOffset, durableEnd });
    }
  }
  if (killed && marks.at(-1)!.at >= frames.at(-1)!.end) {
    bytes = bytes.subarray(0, marks.pop()!.at);
  }
  return { io, path, bytes, frames, marks, firstLsn: segments.at(-1)!.firstLsn };
}

/** The damaged bytes of the newest segment (frames and zero fill, never its header). */
function damaged(bytes: Buffer, frames: Frame[], d: Damage): Buffer {
  const out = Buffer.from(bytes);
  const span = out.length - FILE_HEADER_SIZE;
  if (d.kind === 'truncate') return out.subarray(0, FILE_HEADER_SIZE + (d.at % span));
  if (d.kind === 'flip') {
    out[FILE_HEADER_SIZE + (d.at % span)]! ^= d.mask;
    return out;
  }
  const at = d.atFrame ? frames[d.at % frames.length]!.start : FILE_HEADER_SIZE + (d.at % span);
  out.fill(0, at, Math.min(out.length, at + d.length));
  return out;
}

type Log = Awaited<ReturnType<typeof syncedLog>>;

/**
 * Damages the newest segment of `log` with `d` and opens it. The default open keeps every
 * record whose frame came through intact; or refuses with WAL_CORRUPT naming the segment and
 * the first damaged frame, the file unchanged for salvage; or, where `tornAllowed` says the
 * damage may be a hole that lost unsynced writes, cuts a torn tail it reports, dropping only
 * intact records after the cut.
 */
async function openDamaged(log: Log, d: Damage, tornAllowed: (offset: number) => boolean) {
  const after = damaged(log.bytes, log.frames, d);
  const fd = await log.io.open(log.path);
  await log.io.truncate(fd, 0);
  await log.io.write(fd, after, 0);
  await log.io.fsync(fd);
  await log.io.close(fd);
  const sameAt = (at: number, end: number) =>
    end <= after.length && log.bytes.subarray(at, end).equals(after.subarray(at, end));
  const intact = log.frames.filter((f) => sameAt(f.start, f.end));
  // A damaged mark is a damaged frame too.
  const firstDamaged = Math.min(
    ...log.frames.filter((f) => !intact.includes(f)).map((f) => f.start),
    ...log.marks.filter((m) => !sameAt(m.at, m.at + DURABLE_MARK_SIZE)).map((m) => m.at),
  );
  let wal: SegmentedWal;
  try {
    wal = await SegmentedWal.open({ dir: DIR, io: log.io });
  } catch (err) {
    expect(isWalError(err) && err.code === WalErrorCode.CORRUPT).toBe(true);
    if (!isWalError(err)) throw err;
    expect(err.details).toMatchObject({ segment: log.path, offset: firstDamaged });
    // Nothing was cut: salvage can still keep what is intact.
    expect(log.io.fileBytes(log.path)!.equals(after)).toBe(true);
    return;
  }
  const kept = new Set((await collect(wal.replay())).map((r) => r.lsn));
  const torn = wal.recoveryReport.tornTail;
  await wal.close();
  const dropped = intact.filter((f) => !kept.has(f.lsn));
  if (dropped.length === 0) return;
  // Only a torn tail may drop intact records, those after its cut, and only where no mark
  // says they were synced.
  expect(torn).not.toBeNull();
  expect(dropped.filter((f) => f.start < torn!.offset)).toEqual([]);
  expect(tornAllowed(torn!.offset)).toBe(true);
}

describe('default recovery under damage of the newest segment of a synced log', () => {
  it('keeps every intact record of a closed log, or refuses with WAL_CORRUPT naming the segment and the damaged frame', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 40, max: 90 }), damageArb, async (records, d) => {
        // Zeros from a header to the end of its sector look like a sector a power loss
        // kept from the disk; the durable mark the writer left at close says they are not.
        await openDamaged(await syncedLog(records), d, () => false);
      }),
      { numRuns: 300 },
    );
  });

  it('takes nothing below the durable end of an intact mark after it for a torn tail, in a log whose writer was killed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 60, max: 120 }), damageArb, async (records, d) => {
        const log = await syncedLog(records, true);
        // A mark per page synced: what no mark states is at most a page and a round or two.
        const dataEnd = log.frames.at(-1)!.end;
        const frame = log.frames[0]!.end - log.frames[0]!.start;
        expect(log.marks.at(-1)?.durableEnd).toBeGreaterThanOrEqual(dataEnd - 4096 - 2 * frame);
        const after = damaged(log.bytes, log.frames, d);
        // What the marks that came through the damage say was synced, from an offset on.
        const stated = (offset: number) =>
          Math.max(
            0,
            ...log.marks
              .filter(
                (m) =>
                  m.at >= offset &&
                  after
                    .subarray(m.at, m.at + DURABLE_MARK_SIZE)
                    .equals(log.bytes.subarray(m.at, m.at + DURABLE_MARK_SIZE)),
              )
              .map((m) => m.durableEnd),
          );
        await openDamaged(log, d, (cut) => stated(cut) <= cut);
      }),
      { numRuns: 200 },
    );
  });
});
