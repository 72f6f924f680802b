import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLog, log, testCipher } from '../../test/arbitraries.js';
import { codecAddon, crc32cImplementation } from '../crc/crc32c.js';
import { LsnSequence } from './lsn-sequence.js';
import { FrameScanner } from './scanner.js';

/** What a recovery walk learns of a buffer: records passed, the LSN it expects next, and where it stopped. */
interface Walk {
  records: number;
  next: bigint;
  /** The offset of the first frame that did not continue the sequence, or the scanner's stop. */
  stoppedAt: number;
  stop: unknown;
}

/** One frame at a time, as recovery reads a frame `passLsnRun` stopped at. */
function frameByFrame(scanner: FrameScanner, sequence: LsnSequence): number | null {
  if (!scanner.advanceFrame()) return null;
  const buf = scanner.frameBuffer;
  const start = scanner.frameBodyStart;
  const length = scanner.frameBodyEnd - start;
  const kind = buf[start];
  if (kind === 4) return 0;
  let count = 0;
  if (kind === 1 && length >= 12 && sequence.isNextAt(buf, start + 4)) count = 1;
  else if (kind === 2 && length >= 16 && sequence.isNextAt(buf, start + 8))
    count = buf.readUInt32LE(start + 4);
  if (count === 0) return -1;
  sequence.advance(count);
  return count;
}

function walk(buf: Buffer, firstLsn: bigint, withRuns: boolean): Walk {
  const scanner = new FrameScanner(buf);
  const sequence = new LsnSequence(firstLsn);
  let records = 0;
  for (;;) {
    if (withRuns) records += scanner.passLsnRun(sequence);
    const passed = frameByFrame(scanner, sequence);
    if (passed === null) break;
    if (passed < 0)
      return { records, next: sequence.next, stoppedAt: scanner.frameOffset, stop: null };
    records += passed;
  }
  return { records, next: sequence.next, stoppedAt: scanner.offset, stop: scanner.stop };
}

const noAddon =
  codecAddon === null ? ` (skipped: the addon is not loaded — ${crc32cImplementation.reason})` : '';

describe('FrameScanner.passLsnRun: recovery passes runs of frames, and stops where one by one would', () => {
  it('passes a whole log of records, batches and padding in one call', () => {
    fc.assert(
      fc.property(log, (model) => {
        const { buf, records } = encodeLog(model);
        const scanner = new FrameScanner(buf);
        const sequence = new LsnSequence(model.firstLsn);
        const passed = scanner.passLsnRun(sequence);
        if (codecAddon === null) {
          // Without the addon there is no run to pass: recovery goes frame by frame.
          expect(passed).toBe(0);
          return;
        }
        expect(passed).toBe(records.length);
        expect(sequence.next).toBe(model.firstLsn + BigInt(records.length));
        expect(scanner.offset).toBe(buf.length);
        expect(scanner.advanceFrame()).toBe(false);
        expect(scanner.stop).toMatchObject({ kind: 'eof', offset: buf.length });
      }),
    );
  });

  it.skipIf(codecAddon === null)(
    `stops before the first frame whose LSN breaks the sequence, for advanceFrame to read${noAddon}`,
    () => {
      fc.assert(
        fc.property(log, log, fc.integer({ min: 1, max: 3 }), (head, tail, skew) => {
          const before = encodeLog(head);
          // The tail's LSNs start `skew` past where the head's end: a gap, or with a negative
          // reading, a repeat — either way not the LSN expected.
          const after = encodeLog({
            firstLsn: head.firstLsn + BigInt(before.records.length + skew),
            items: tail.items,
          });
          const breaking = after.frames.find((f) => f.records.length > 0);
          fc.pre(breaking !== undefined);
          const buf = Buffer.concat([before.buf, after.buf]);
          const scanner = new FrameScanner(buf);
          const sequence = new LsnSequence(head.firstLsn);
          expect(scanner.passLsnRun(sequence)).toBe(before.records.length);
          expect(sequence.next).toBe(head.firstLsn + BigInt(before.records.length));
          expect(scanner.advanceFrame()).toBe(true);
          expect(scanner.frameOffset).toBe(before.buf.length + breaking!.start);
        }),
        { numRuns: 100 },
      );
    },
  );

  it('agrees with the frame-by-frame walk on any log, any first LSN, and any damage', () => {
    fc.assert(
      fc.property(
        log,
        fc.bigInt({ min: -2n, max: 2n }),
        fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 }))),
        (model, skew, damage) => {
          const { buf } = encodeLog(model);
          if (damage !== null) buf[damage[0] % buf.length]! ^= damage[1];
          const first = model.firstLsn + skew > 0n ? model.firstLsn + skew : 1n;
          expect(walk(buf, first, true)).toEqual(walk(buf, first, false));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('passes no encrypted frame: their LSNs are inside the ciphertext', () => {
    fc.assert(
      fc.property(log, (model) => {
        const { buf } = encodeLog(model, testCipher());
        expect(
          new FrameScanner(buf, { cipher: testCipher() }).passLsnRun(
            new LsnSequence(model.firstLsn),
          ),
        ).toBe(0);
      }),
      { numRuns: 30 },
    );
  });
});
