import {
  decodeFileHeader,
  FILE_HEADER_SIZE,
  FrameCipher,
  FrameScanner,
  isWalError,
  WalErrorCode,
} from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR, openMemory, testRing } from '../../test/helpers.js';
import { SegmentedWal, type SegmentedWalConfig } from '../index.js';

type Damage =
  | { kind: 'flip'; segment: number; at: number; mask: number }
  | { kind: 'zero'; segment: number; at: number; length: number }
  | { kind: 'truncate'; segment: number; at: number }
  | { kind: 'missing'; segment: number };

const damageArb: fc.Arbitrary<Damage> = fc.oneof(
  fc.record({
    kind: fc.constant('flip' as const),
    segment: fc.nat(),
    at: fc.nat(),
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant('zero' as const),
    segment: fc.nat(),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 300 }),
  }),
  fc.record({ kind: fc.constant('truncate' as const), segment: fc.nat(), at: fc.nat() }),
  fc.record({ kind: fc.constant('missing' as const), segment: fc.nat() }),
);

const PAYLOAD = 100;

interface Original {
  path: string;
  bytes: Buffer;
  /** Each record's frame: [start, end) in the file and its LSN. */
  frames: { start: number; end: number; lsn: bigint }[];
}

async function buildLog(records: number, encrypted: boolean) {
  const config: Partial<SegmentedWalConfig> = {
    segmentTargetSize: 4096,
    ...(encrypted ? { encryption: testRing() } : {}),
  };
  const io = new MemoryStorageIo();
  const wal = await openMemory(io, config);
  for (let i = 1n; i <= BigInt(records); i++) wal.append({ payload: payloadFor(i, PAYLOAD) });
  await wal.sync();
  const originals: Original[] = [];
  for (const { path } of await wal.listSegments()) {
    const bytes = Buffer.from(io.fileBytes(path)!);
    const header = decodeFileHeader(bytes.subarray(0, FILE_HEADER_SIZE), path);
    const cipher = encrypted ? FrameCipher.forFile(testRing(), header) : undefined;
    const scanner = new FrameScanner(bytes, { start: FILE_HEADER_SIZE, cipher });
    const frames: Original['frames'] = [];
    while (scanner.advanceFrame()) {
      const lsn = scanner.frameBuffer.readBigUInt64LE(scanner.frameBodyStart + 4);
      frames.push({ start: scanner.frameOffset, end: scanner.offset, lsn });
    }
    originals.push({ path, bytes, frames });
  }
  await wal.close();
  return { io, config, originals };
}

async function rewrite(io: MemoryStorageIo, path: string, bytes: Buffer): Promise<void> {
  const fd = await io.open(path);
  await io.truncate(fd, 0);
  if (bytes.length > 0) await io.write(fd, bytes, 0);
  await io.fsync(fd);
  await io.close(fd);
}

/** Applies the damage; returns each segment's bytes afterwards (null: deleted). */
async function damage(io: MemoryStorageIo, originals: Original[], damages: Damage[]) {
  const now = originals.map((o): Buffer | null => Buffer.from(o.bytes));
  for (const d of damages) {
    if (d.kind === 'missing') {
      if (originals.length < 3) continue;
      now[1 + (d.segment % (originals.length - 2))] = null;
      continue;
    }
    const index = d.segment % originals.length;
    const bytes = now[index];
    if (bytes === null || bytes === undefined || bytes.length === 0) continue;
    const at = d.at % bytes.length;
    if (d.kind === 'flip') bytes[at]! ^= d.mask;
    else if (d.kind === 'zero') bytes.fill(0, at, Math.min(bytes.length, at + d.length));
    else now[index] = bytes.subarray(0, at);
  }
  for (const [i, o] of originals.entries()) {
    const bytes = now[i]!;
    if (bytes === null) await io.unlink(o.path);
    else await rewrite(io, o.path, bytes);
  }
  return now;
}

/** LSNs whose frame, and whose segment's header, came through the damage unchanged. */
function intactLsns(originals: Original[], now: (Buffer | null)[]): bigint[] {
  const out: bigint[] = [];
  for (const [i, o] of originals.entries()) {
    const bytes = now[i];
    if (bytes === null || bytes === undefined) continue;
    const same = (start: number, end: number) =>
      end <= bytes.length && bytes.compare(o.bytes, start, end, start, end) === 0;
    if (!same(0, FILE_HEADER_SIZE)) continue;
    for (const f of o.frames) if (same(f.start, f.end)) out.push(f.lsn);
  }
  return out;
}

async function replayAll(wal: SegmentedWal): Promise<bigint[]> {
  const records = await collect(wal.replay());
  for (const r of records) expect(r.payload.equals(payloadFor(r.lsn, PAYLOAD))).toBe(true);
  const lsns = records.map((r) => r.lsn);
  for (let i = 1; i < lsns.length; i++) expect(lsns[i]! > lsns[i - 1]!).toBe(true);
  return lsns;
}

const scenario = fc.record({
  records: fc.integer({ min: 100, max: 300 }),
  encrypted: fc.boolean(),
  damages: fc.array(damageArb, { minLength: 1, maxLength: 4 }),
});

/**
 * Replays until the end or the first error: the records handed out before it, each checked
 * against what was written, and the error (a WalError naming segment and offset) if any.
 */
async function replayUntilDamage(wal: SegmentedWal): Promise<{ lsns: bigint[]; damage: unknown }> {
  const lsns: bigint[] = [];
  try {
    for await (const r of wal.replay()) {
      expect(r.lsn).toBe(BigInt(lsns.length + 1));
      expect(r.payload.equals(payloadFor(r.lsn, PAYLOAD))).toBe(true);
      lsns.push(r.lsn);
    }
  } catch (err) {
    return { lsns, damage: err };
  }
  return { lsns, damage: null };
}

describe('recovery under random damage of multi-segment logs', () => {
  it('by default opens reading only the newest segment; replay hands out only records as written, 1..k, and reports the damage it stops at', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ records, encrypted, damages }) => {
        const { io, config, originals } = await buildLog(records, encrypted);
        const now = await damage(io, originals, damages);
        let wal: SegmentedWal;
        try {
          wal = await SegmentedWal.open({ dir: DIR, io, ...config });
        } catch (err) {
          expect(isWalError(err)).toBe(true);
          return;
        }
        const { lsns, damage: found } = await replayUntilDamage(wal);
        const lastFirst = originals.at(-1)!.frames[0]?.lsn ?? BigInt(records) + 1n;
        if (found !== null) {
          expect(isWalError(found, WalErrorCode.CORRUPT)).toBe(true);
          const details = (found as { details: { segment: string; offset: number } }).details;
          expect(originals.map((o) => o.path)).toContain(details.segment);
          expect(Number.isInteger(details.offset)).toBe(true);
          // The damage is in a sealed segment: the newest was checked at open.
          expect(details.segment).not.toBe(originals.at(-1)!.path);
        } else {
          expect(BigInt(lsns.length)).toBeGreaterThanOrEqual(lastFirst - 1n);
          if (lsns.length < records && wal.recoveryReport.tornTail === null) {
            const end = originals.at(-1)!.frames.find((f) => f.lsn === lsns.at(-1))?.end;
            expect(
              now
                .at(-1)!
                .subarray(end ?? FILE_HEADER_SIZE)
                .every((b) => b === 0),
            ).toBe(true);
          }
        }
        await wal.close();
      }),
      { numRuns: 100 },
    );
  }, 120_000);

  it("with verify: 'all' returns the log whole, or cut only at a reported torn tail of the last segment, or refuses at open", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ records, encrypted, damages }) => {
        const { io, config, originals } = await buildLog(records, encrypted);
        const now = await damage(io, originals, damages);
        let wal: SegmentedWal;
        try {
          wal = await SegmentedWal.open({ dir: DIR, io, ...config, verify: 'all' });
        } catch (err) {
          expect(isWalError(err)).toBe(true);
          return;
        }
        const lsns = await replayAll(wal);
        const lastFirst = originals.at(-1)!.frames[0]?.lsn ?? BigInt(records) + 1n;
        // 1..k with nothing missing before the last segment.
        expect(lsns).toEqual(lsns.map((_, i) => BigInt(i + 1)));
        expect(BigInt(lsns.length)).toBeGreaterThanOrEqual(lastFirst - 1n);
        if (lsns.length < records && wal.recoveryReport.tornTail === null) {
          // Shorter without a reported torn tail only where no reader could tell: the last
          // segment ends right after its last record, or only zeros follow (a clean end).
          const last = originals.at(-1)!;
          const end = last.frames.find((f) => f.lsn === lsns.at(-1))?.end ?? FILE_HEADER_SIZE;
          const rest = now.at(-1)!.subarray(end);
          expect(rest.every((b) => b === 0)).toBe(true);
        }
        await wal.close();
      }),
      { numRuns: 100 },
    );
  }, 120_000);

  it('with salvage keeps every record whose frame is intact, and reports every LSN it lost', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async ({ records, encrypted, damages }) => {
        const { io, config, originals } = await buildLog(records, encrypted);
        const now = await damage(io, originals, damages);
        const wal = await SegmentedWal.open({ dir: DIR, io, ...config, recovery: 'salvage' });
        const lsns = await replayAll(wal);
        const kept = new Set(lsns);
        for (const lsn of intactLsns(originals, now)) expect(kept.has(lsn)).toBe(true);
        const { gaps } = wal.recoveryReport;
        const last = lsns.at(-1) ?? 0n;
        for (let lsn = 1n; lsn <= last; lsn++) {
          if (!kept.has(lsn)) expect(gaps.some((g) => g.from <= lsn && lsn <= g.to)).toBe(true);
        }
        await wal.close();
        // What salvage left opens by default, with the same records.
        const again = await SegmentedWal.open({ dir: DIR, io, ...config });
        expect(await replayAll(again)).toEqual(lsns);
        await again.close();
      }),
      { numRuns: 100 },
    );
  }, 120_000);
});
