import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordInput } from '../../test/arbitraries.js';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import { MAX_TIME_DELTA, RECORD_BODY_FIXED, TIME_FIELD_SIZE } from './constants.js';
import { sealFrames } from './frame-run.js';
import {
  batchFrameSize,
  decodeBatchBody,
  decodeRecordBody,
  encodeBatchFrame,
  encodePayloadFramesUnsealed,
  encodeRecordFrame,
  payloadFrameSize,
  recordFrameSize,
  type WalRecordInput,
} from './records.js';
import { FrameScanner } from './scanner.js';

const RUNS = 300;
const createdAtMs = fc.integer({ min: 0, max: 2 ** 45 });
const delta = fc.integer({ min: 0, max: MAX_TIME_DELTA });
const v2 = (base: number) => ({ version: 2, createdAtMs: base });

describe('record times (format version 2)', () => {
  it('a timed record decodes to what was encoded, its time = createdAtMs + delta', () => {
    fc.assert(
      fc.property(recordInput, createdAtMs, delta, (input, base, d) => {
        const size = recordFrameSize(input, true);
        expect(size).toBe(recordFrameSize(input) + TIME_FIELD_SIZE);
        const buf = Buffer.alloc(size);
        expect(encodeRecordFrame(buf, 0, 9n, input, d)).toBe(size);
        expect(decodeRecordBody(buf.subarray(8), v2(base))).toEqual({
          lsn: 9n,
          ...input,
          type: input.type ?? 0,
          time: base + d,
        });
        // Read without the header, the layout is still understood; only the time is unknown.
        expect(decodeRecordBody(buf.subarray(8)).time).toBeUndefined();
        expect(decodeRecordBody(buf.subarray(8)).payload).toEqual(input.payload);
      }),
      { numRuns: RUNS },
    );
  });

  it('a timed batch gives every entry the batch time', () => {
    fc.assert(
      fc.property(
        fc.array(recordInput, { minLength: 1, maxLength: 6 }),
        createdAtMs,
        delta,
        (inputs, base, d) => {
          const size = batchFrameSize(inputs, true);
          expect(size).toBe(batchFrameSize(inputs) + TIME_FIELD_SIZE);
          const buf = Buffer.alloc(size);
          expect(encodeBatchFrame(buf, 0, 5n, inputs, d)).toBe(size);
          const records = decodeBatchBody(buf.subarray(8), v2(base));
          expect(records.map((r) => r.time)).toEqual(inputs.map(() => base + d));
          expect(records.map((r) => r.lsn)).toEqual(inputs.map((_, i) => 5n + BigInt(i)));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('a single small timed record costs 24 bytes of overhead (DESIGN: at most 24)', () => {
    const payload = Buffer.from('x');
    expect(payloadFrameSize(payload, true) - payload.length).toBe(24);
    expect(RECORD_BODY_FIXED + TIME_FIELD_SIZE + 8).toBe(24);
  });

  it('a version 1 file refuses a body with a time as malformed', () => {
    const buf = Buffer.alloc(recordFrameSize({ payload: Buffer.from('a') }, true));
    encodeRecordFrame(buf, 0, 1n, { payload: Buffer.from('a') }, 7);
    const scanner = new FrameScanner(buf, { file: { version: 1, createdAtMs: 0 } });
    expect(scanner.nextRecord()).toBeNull();
    expect(scanner.stop).toMatchObject({ kind: 'corrupt', offset: 0 });
    const batch = Buffer.alloc(batchFrameSize([{ payload: Buffer.from('a') }], true));
    encodeBatchFrame(batch, 0, 1n, [{ payload: Buffer.from('a') }], 7);
    const batchScanner = new FrameScanner(batch, { file: { version: 1, createdAtMs: 0 } });
    expect(batchScanner.nextRecord()).toBeNull();
    expect(batchScanner.stop?.reason).toMatch(/version 1/);
  });

  it('refuses a time that is not a u32 with WAL_BAD_ARGUMENT', () => {
    const buf = Buffer.alloc(64);
    for (const bad of [-1, 2 ** 32, 1.5, Number.NaN, '3' as unknown as number]) {
      try {
        encodeRecordFrame(buf, 0, 1n, { payload: Buffer.alloc(1) }, bad);
        expect.unreachable();
      } catch (err) {
        expect(isWalError(err, WalErrorCode.BAD_ARGUMENT)).toBe(true);
      }
    }
  });

  it('a scanner over frames with and without times hands out each as written', () => {
    const item = fc.record({
      input: recordInput,
      time: fc.option(delta, { nil: undefined }),
      batch: fc.nat(3),
    });
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), createdAtMs, (items, base) => {
        const parts: Buffer[] = [];
        const expected: { lsn: bigint; time: number | undefined; payload: Buffer }[] = [];
        let lsn = 1n;
        for (const { input, time, batch } of items) {
          const inputs: WalRecordInput[] = Array.from({ length: batch + 1 }, () => input);
          const buf = Buffer.alloc(
            batch === 0
              ? recordFrameSize(input, time !== undefined)
              : batchFrameSize(inputs, time !== undefined),
          );
          if (batch === 0) encodeRecordFrame(buf, 0, lsn, input, time);
          else encodeBatchFrame(buf, 0, lsn, inputs, time);
          parts.push(buf);
          for (const _ of inputs) {
            expected.push({
              lsn,
              time: time === undefined ? undefined : base + time,
              payload: Buffer.from(input.payload),
            });
            lsn++;
          }
        }
        const scanner = new FrameScanner(Buffer.concat(parts), { file: v2(base) });
        const got = [...scanner.records()].map((r) => ({
          lsn: r.lsn,
          time: r.time,
          payload: Buffer.from(r.payload),
        }));
        expect(got).toEqual(expected);
        expect(scanner.stop?.kind).toBe('eof');
      }),
      { numRuns: RUNS },
    );
  });

  it('payload frames encoded in one call carry the one time given', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 40 }), { minLength: 1, maxLength: 10 }),
        createdAtMs,
        delta,
        (payloads, base, d) => {
          const size = payloads.reduce((n, p) => n + payloadFrameSize(p, true), 0);
          const buf = Buffer.alloc(size);
          expect(encodePayloadFramesUnsealed(buf, 0, 3n, payloads, 0, payloads.length, d)).toBe(
            size,
          );
          sealFrames(buf, 0, size);
          const records = [...new FrameScanner(buf, { file: v2(base) }).records()];
          expect(records.map((r) => [r.time, Buffer.from(r.payload)])).toEqual(
            payloads.map((p) => [base + d, Buffer.from(p)]),
          );
        },
      ),
      { numRuns: RUNS },
    );
  });
});
