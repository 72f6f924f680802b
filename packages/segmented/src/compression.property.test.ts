import { join } from 'node:path';
import {
  FILE_HEADER_SIZE,
  FrameScanner,
  isWalError,
  WalErrorCode,
  zstdImplementation,
} from '@walnut/codec';
import { compressedLog, compressedLogEvent } from '@walnut/codec/testing';
import { MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory, testRing } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

const canWrite = zstdImplementation().encoder !== null;
const WRITE_SKIP = `writing zstd needs Node 22.15 or later, this is Node ${process.versions.node}`;

type Op =
  | { kind: 'append'; payload: Buffer }
  | { kind: 'batch'; payloads: Buffer[] }
  | { kind: 'payloads'; payloads: Buffer[] };

/** Payloads that compress (JSON events, repeated bytes) and payloads that do not (random). */
const payloadArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.nat({ max: 10_000 }).map((i) => compressedLogEvent(i)),
  fc.uint8Array({ minLength: 0, maxLength: 600 }).map((b) => Buffer.from(b)),
  fc
    .tuple(fc.integer({ min: 0, max: 255 }), fc.nat({ max: 3000 }))
    .map(([b, n]) => Buffer.alloc(n, b)),
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  payloadArb.map((payload) => ({ kind: 'append' as const, payload })),
  fc
    .array(payloadArb, { minLength: 1, maxLength: 12 })
    .map((payloads) => ({ kind: 'batch' as const, payloads })),
  fc
    .array(payloadArb, { minLength: 1, maxLength: 40 })
    .map((payloads) => ({ kind: 'payloads' as const, payloads })),
);
/** One writer's session: compression off or a level, encryption or not, its appends. */
const sessionArb = fc.record({
  level: fc.option(fc.integer({ min: 1, max: 19 }), { nil: undefined }),
  encrypted: fc.boolean(),
  segmentTargetSize: fc.constantFrom(4096, 16_384, 1 << 20),
  ops: fc.array(opArb, { minLength: 1, maxLength: 12 }),
});

describe.skipIf(!canWrite)(
  `compression on and off across reopenings (${canWrite ? 'writes' : WRITE_SKIP})`,
  () => {
    it('replays every record appended, in order, whatever each session chose', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(sessionArb, { minLength: 1, maxLength: 4 }), async (sessions) => {
          const io = new MemoryStorageIo();
          const written: Buffer[] = [];
          // A log with a key ring must keep it: once a session encrypts, the later ones do too.
          let ring = false;
          for (const s of sessions) {
            ring ||= s.encrypted;
            const wal = await openMemory(io, {
              segmentTargetSize: s.segmentTargetSize,
              ...(s.level === undefined ? {} : { compression: { codec: 'zstd', level: s.level } }),
              ...(ring ? { encryption: testRing() } : {}),
            });
            for (const op of s.ops) {
              if (op.kind === 'append') wal.append({ payload: op.payload });
              else if (op.kind === 'batch')
                wal.appendBatch(op.payloads.map((payload) => ({ payload })));
              else wal.appendPayloads(op.payloads);
              written.push(...(op.kind === 'append' ? [op.payload] : op.payloads));
            }
            await wal.sync();
            await wal.close();
          }
          const reader = await openMemory(io, {
            readOnly: true,
            ...(ring ? { encryption: testRing() } : {}),
          });
          const records = await collect(reader.replay());
          await reader.close();
          expect(records.map((r) => r.lsn)).toEqual(written.map((_, i) => BigInt(i + 1)));
          expect(records.every((r, i) => r.payload.equals(written[i]!))).toBe(true);
        }),
        { numRuns: 60 },
      );
    });
  },
);

type Damage =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'zero'; at: number; length: number }
  | { kind: 'truncate'; at: number };
const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('zero' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

/** The golden log's record frames: where each starts and ends, and its LSNs. */
function goldenFrames(bytes: Buffer): { start: number; end: number; lsns: bigint[] }[] {
  const scanner = new FrameScanner(bytes, { start: FILE_HEADER_SIZE });
  const frames: { start: number; end: number; lsns: bigint[] }[] = [];
  for (
    let at = scanner.offset, f = scanner.nextFrame();
    f !== null;
    at = scanner.offset, f = scanner.nextFrame()
  ) {
    const inner = new FrameScanner(bytes, { start: at, end: scanner.offset });
    const lsns = [...inner.records()].map((r) => r.lsn);
    if (lsns.length > 0) frames.push({ start: at, end: scanner.offset, lsns });
  }
  return frames;
}

describe(`default recovery under damage of a compressed log (decoder ${zstdImplementation().decoder})`, () => {
  it('keeps every record of every intact frame, or refuses with WAL_CORRUPT naming the first damaged one', async () => {
    const { name, bytes } = compressedLog();
    const frames = goldenFrames(bytes);
    expect(frames.map((f) => f.lsns.length)).toEqual([20, 1, 1, 1, 9]);
    // As the log names its segments: node:path joins with `\` on Windows.
    const path = join(DIR, name);
    await fc.assert(
      fc.asyncProperty(damageArb, async (d) => {
        const after = Buffer.from(bytes);
        const span = after.length - FILE_HEADER_SIZE;
        const at = FILE_HEADER_SIZE + (d.at % span);
        if (d.kind === 'flip') after[at] = after[at]! ^ d.mask;
        if (d.kind === 'zero') after.fill(0, at, Math.min(after.length, at + d.length));
        const damaged = d.kind === 'truncate' ? after.subarray(0, at) : after;
        const io = new MemoryStorageIo();
        await io.mkdir(DIR);
        const fd = await io.open(path, { create: true });
        await io.write(fd, damaged, 0);
        await io.close(fd);
        const intact = frames.filter(
          (f) =>
            f.end <= damaged.length &&
            bytes.subarray(f.start, f.end).equals(damaged.subarray(f.start, f.end)),
        );
        const firstDamaged = frames.find((f) => !intact.includes(f));
        let wal: SegmentedWal;
        try {
          wal = await SegmentedWal.open({ dir: DIR, io });
        } catch (err) {
          expect(isWalError(err) && err.code === WalErrorCode.CORRUPT).toBe(true);
          if (!isWalError(err)) throw err;
          expect(err.details).toMatchObject({ segment: path, offset: firstDamaged?.start });
          return;
        }
        const kept = new Set((await collect(wal.replay())).map((r) => r.lsn));
        await wal.close();
        expect(intact.flatMap((f) => f.lsns).filter((lsn) => !kept.has(lsn))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
