import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { coreEntry, encodeCoreLog, encodeLog, log, testCipher } from '../../test/arbitraries.js';
import { isWalError } from '../errors/errors.js';
import { classifyDamage } from './damage.js';
import type { WalRecord } from './records.js';
import { FrameScanner, type FrameScannerOptions } from './scanner.js';

function scanAll(buf: Uint8Array, options?: FrameScannerOptions) {
  const scanner = new FrameScanner(buf, options);
  const records: WalRecord[] = [...scanner.records()];
  return { records, stop: scanner.stop!, offset: scanner.offset };
}

function allZero(buf: Uint8Array): boolean {
  return buf.every((b) => b === 0);
}

describe('scanning property: round trip', () => {
  it('every record, batch and padding mix reads back equal, then eof', () => {
    fc.assert(
      fc.property(log, fc.nat(300), (model, zeros) => {
        const { buf, records } = encodeLog(model);
        const withTail = Buffer.concat([buf, Buffer.alloc(zeros)]);
        const scan = scanAll(withTail, { baseOffset: 64 });
        expect(scan.records).toEqual(records);
        expect(scan.stop.kind).toBe('eof');
        expect(scan.stop.offset).toBe(64 + buf.length);
      }),
    );
  });

  it('encrypted frames read back equal with the file cipher', () => {
    fc.assert(
      fc.property(log, (model) => {
        const { buf, records } = encodeLog(model, testCipher());
        const scan = scanAll(buf, { cipher: testCipher() });
        expect(scan.records).toEqual(records);
        expect(scan.stop.kind).toBe('eof');
      }),
      { numRuns: 50 },
    );
  });

  it('per-core entries read back equal', () => {
    fc.assert(
      fc.property(fc.array(coreEntry, { minLength: 1, maxLength: 10 }), (entries) => {
        const { buf } = encodeCoreLog(entries);
        const scanner = new FrameScanner(buf);
        const read = [];
        for (let e = scanner.nextCoreEntry(); e !== null; e = scanner.nextCoreEntry()) read.push(e);
        expect(read).toEqual(entries);
        expect(scanner.stop?.kind).toBe('eof');
      }),
    );
  });
});

describe('scanning property: damage', () => {
  it('every single-byte change in a frame stops the scan there: corrupt, or torn in the last frame', () => {
    fc.assert(
      fc.property(log, fc.nat(), fc.integer({ min: 1, max: 255 }), (model, pick, mask) => {
        const { buf, frames } = encodeLog(model);
        const k = pick % frames.length;
        const frame = frames[k]!;
        const before = frames.slice(0, k).flatMap((f) => f.records);
        for (let i = frame.start; i < frame.end; i++) {
          const damaged = Buffer.from(buf);
          damaged[i]! ^= mask;
          const scan = scanAll(damaged);
          expect(scan.records).toEqual(before);
          expect(scan.stop.offset).toBe(frame.start);
          expect(scan.stop.kind).toBe(k === frames.length - 1 ? 'torn' : 'corrupt');
        }
      }),
      { numRuns: 60 },
    );
  });

  it('every single-byte change in an encrypted frame is caught before decryption', () => {
    fc.assert(
      fc.property(log, fc.nat(), fc.integer({ min: 1, max: 255 }), (model, pick, mask) => {
        const { buf, frames } = encodeLog(model, testCipher());
        const k = pick % frames.length;
        const frame = frames[k]!;
        const cipher = testCipher();
        for (let i = frame.start; i < frame.end; i++) {
          const damaged = Buffer.from(buf);
          damaged[i]! ^= mask;
          const scan = scanAll(damaged, { cipher });
          expect(scan.records).toEqual(frames.slice(0, k).flatMap((f) => f.records));
          expect(scan.stop.kind).toBe(k === frames.length - 1 ? 'torn' : 'corrupt');
        }
      }),
      { numRuns: 20 },
    );
  });

  it('every truncation of the last frame reads as torn (eof only if what is left is zeros)', () => {
    fc.assert(
      fc.property(log, fc.nat(64), (model, zeros) => {
        const { buf, frames } = encodeLog(model);
        const last = frames[frames.length - 1]!;
        const before = frames.slice(0, -1).flatMap((f) => f.records);
        for (let cut = last.start + 1; cut < last.end; cut++) {
          const left = buf.subarray(last.start, cut);
          const file = Buffer.concat([buf.subarray(0, cut), Buffer.alloc(zeros)]);
          const scan = scanAll(file);
          // A frame whose missing tail was zeros is whole again when zero fill follows.
          if (allZero(buf.subarray(cut, last.end)) && cut + zeros >= last.end) {
            expect(scan.records).toEqual(frames.flatMap((f) => f.records));
            continue;
          }
          expect(scan.records).toEqual(before);
          expect(scan.stop.offset).toBe(last.start);
          expect(scan.stop.kind).toBe(allZero(left) ? 'eof' : 'torn');
        }
        for (let cut = last.start + 1; cut < last.end; cut++) {
          const chunk = scanAll(buf.subarray(0, cut), { chunked: true });
          expect(chunk.records).toEqual(before);
          expect(chunk.stop).toMatchObject({
            kind: 'partial',
            offset: last.start,
            needed: cut - last.start < 8 ? 8 : last.end - last.start,
          });
        }
      }),
      { numRuns: 30 },
    );
  });

  it('every single-byte change in a per-core log stops the scan at that entry', () => {
    fc.assert(
      fc.property(
        fc.array(coreEntry, { minLength: 1, maxLength: 6 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (entries, pick, mask) => {
          const { buf, frames } = encodeCoreLog(entries);
          const k = pick % frames.length;
          const frame = frames[k]!;
          for (let i = frame.start; i < frame.end; i++) {
            const damaged = Buffer.from(buf);
            damaged[i]! ^= mask;
            const scanner = new FrameScanner(damaged);
            const read = [];
            for (let e = scanner.nextCoreEntry(); e !== null; e = scanner.nextCoreEntry())
              read.push(e);
            expect(read).toEqual(entries.slice(0, k));
            expect(scanner.stop?.offset).toBe(frame.start);
            expect(scanner.stop?.kind).toBe(k === frames.length - 1 ? 'torn' : 'corrupt');
          }
        },
      ),
      { numRuns: 30 },
    );
  });

  it('zero-filled space of any length reads as eof', () => {
    fc.assert(
      fc.property(fc.nat(100_000), fc.nat(64), (length, start) => {
        const buf = Buffer.alloc(length);
        const from = Math.min(start, length);
        const scan = scanAll(buf, { start: from });
        expect(scan.records).toEqual([]);
        expect(scan.stop).toMatchObject({ kind: 'eof', offset: from });
      }),
    );
  });
});

describe('scanning property: garbage', () => {
  const garbage = fc.uint8Array({ maxLength: 2048 }).map((u) => Buffer.from(u));

  function onlyWalErrors(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      if (!isWalError(err)) throw err;
    }
  }

  it('random bytes yield no record and throw nothing but WalError', () => {
    fc.assert(
      fc.property(garbage, fc.boolean(), (buf, chunked) => {
        onlyWalErrors(() => expect(scanAll(buf, { chunked }).records).toEqual([]));
        onlyWalErrors(() => {
          const s = new FrameScanner(buf, { chunked });
          while (s.nextCoreEntry() !== null);
        });
        onlyWalErrors(() => {
          const s = new FrameScanner(buf, { cipher: testCipher() });
          while (s.nextFrame() !== null);
        });
        for (let i = 0; i < buf.length; i += 97) onlyWalErrors(() => classifyDamage(buf, i));
      }),
    );
  });

  it('garbage after a valid log yields exactly the records written', () => {
    fc.assert(
      fc.property(log, garbage, (model, tail) => {
        const { buf, records } = encodeLog(model);
        const scan = scanAll(Buffer.concat([buf, tail]));
        expect(scan.records).toEqual(records);
        expect(scan.stop.offset).toBe(buf.length);
      }),
    );
  });
});
