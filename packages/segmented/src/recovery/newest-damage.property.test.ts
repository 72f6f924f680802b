import { BodyKind, FILE_HEADER_SIZE, FrameScanner, isWalError, WalErrorCode } from '@walnut/codec';
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

async function syncedLog(records: number) {
  const io = new MemoryStorageIo();
  const wal = await openMemory(io, { segmentTargetSize: 4096 });
  for (let i = 1n; i <= BigInt(records); i++) wal.append({ payload: payloadFor(i, 100) });
  await wal.sync();
  const segments = await wal.listSegments();
  await wal.close();
  const path = segments.at(-1)!.path;
  const bytes = Buffer.from(io.fileBytes(path)!);
  const scanner = new FrameScanner(bytes, { start: FILE_HEADER_SIZE });
  const frames: Frame[] = [];
  while (scanner.advanceFrame()) {
    // The durable mark the writer left at close holds no record.
    if (scanner.frameBuffer[scanner.frameBodyStart] !== BodyKind.RECORD) continue;
    const lsn = scanner.frameBuffer.readBigUInt64LE(scanner.frameBodyStart + 4);
    frames.push({ start: scanner.frameOffset, end: scanner.offset, lsn });
  }
  return { io, path, bytes, frames, firstLsn: segments.at(-1)!.firstLsn };
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

describe('default recovery under damage of the newest segment of a synced log', () => {
  it('keeps every intact record, or refuses with WAL_CORRUPT naming the segment and the damaged frame', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 40, max: 90 }), damageArb, async (records, d) => {
        const log = await syncedLog(records);
        const after = damaged(log.bytes, log.frames, d);
        const fd = await log.io.open(log.path);
        await log.io.truncate(fd, 0);
        await log.io.write(fd, after, 0);
        await log.io.fsync(fd);
        await log.io.close(fd);
        const intact = log.frames.filter(
          (f) =>
            f.end <= after.length &&
            log.bytes.subarray(f.start, f.end).equals(after.subarray(f.start, f.end)),
        );
        const firstDamaged = log.frames.find((f) => !intact.includes(f));
        let wal: SegmentedWal;
        try {
          wal = await SegmentedWal.open({ dir: DIR, io: log.io });
        } catch (err) {
          expect(isWalError(err) && err.code === WalErrorCode.CORRUPT).toBe(true);
          if (!isWalError(err)) throw err;
          expect(err.details).toMatchObject({ segment: log.path, offset: firstDamaged?.start });
          // Nothing was cut: salvage can still keep what is intact.
          expect(log.io.fileBytes(log.path)!.equals(after)).toBe(true);
          return;
        }
        const kept = new Set((await collect(wal.replay())).map((r) => r.lsn));
        await wal.close();
        // Zeros from a header to the end of its sector look like a sector a power loss
        // kept from the disk; the durable mark the writer left at close says they are not.
        expect(intact.filter((f) => !kept.has(f.lsn))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
