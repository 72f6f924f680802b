import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { recordInput } from '../../test/arbitraries.js';
import { isWalError } from '../errors/errors.js';
import { BodyKind, FRAME_HEADER_SIZE } from './constants.js';
import { plainRecordLsn, RecordCursor } from './record-cursor.js';
import { decodeRecordAt, encodeBatchFrame, encodeRecordFrame } from './records.js';

const SAFE = 2n ** 53n;
const lsn = fc.oneof(
  fc.bigInt(1n, 1000n),
  fc.bigInt(SAFE - 2n, SAFE + 2n),
  fc.bigInt(1n, 2n ** 64n - 1n),
);

function recordBody(at: bigint, input: Parameters<typeof encodeRecordFrame>[3]) {
  const frame = Buffer.alloc(
    FRAME_HEADER_SIZE + 64 + input.payload.length + (input.meta?.length ?? 0),
  );
  const end = encodeRecordFrame(frame, 0, at, input);
  return { buf: frame, start: FRAME_HEADER_SIZE, end };
}

/** Record-like bodies: kind, flags and LSN high word biased towards a plain record's. */
const recordishBody = fc
  .tuple(
    fc.oneof(fc.constant(BodyKind.RECORD), fc.integer({ min: 0, max: 255 })),
    fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 })),
    fc.uint8Array({ minLength: 6, maxLength: 6 }),
    fc.oneof(fc.constant(new Uint8Array(4)), fc.uint8Array({ minLength: 4, maxLength: 4 })),
    fc.uint8Array({ maxLength: 30 }),
    fc.nat(60),
  )
  .map(([kind, flags, typeAndLo, hi, tail, cut]) => {
    const body = Buffer.concat([Buffer.from([kind, flags]), typeAndLo, hi, tail]);
    return body.subarray(0, Math.min(body.length, cut));
  });

describe('plainRecordLsn', () => {
  it('gives the LSN of a record with no optional parts below 2^53, else 0', () => {
    fc.assert(
      fc.property(lsn, recordInput, (at, input) => {
        const { buf, start, end } = recordBody(at, input);
        const plain =
          input.meta === undefined &&
          input.tenantId === undefined &&
          input.vshardId === undefined &&
          input.databaseId === undefined &&
          at < SAFE;
        expect(plainRecordLsn(buf, start, end)).toBe(plain ? Number(at) : 0);
      }),
    );
  });

  it('accepts only bodies that decode to that LSN with no optional parts', () => {
    fc.assert(
      fc.property(recordishBody, (buf) => {
        const n = plainRecordLsn(buf, 0, buf.length);
        if (n === 0) return;
        const record = decodeRecordAt(buf, 0, buf.length);
        expect(record.lsn).toBe(BigInt(n));
        expect(record.meta).toBeUndefined();
        expect(record.tenantId).toBeUndefined();
      }),
    );
  });

  it('never accepts a body that does not decode', () => {
    fc.assert(
      fc.property(recordishBody, (buf) => {
        try {
          decodeRecordAt(buf, 0, buf.length);
        } catch (error) {
          if (!isWalError(error)) throw error;
          expect(plainRecordLsn(buf, 0, buf.length)).toBe(0);
        }
      }),
    );
  });

  it('is what plainRecordAt needs: it builds the record the full decode builds', () => {
    const file = { version: 2, createdAtMs: 1_700_000_000_000 };
    fc.assert(
      fc.property(
        lsn,
        recordInput,
        fc.option(fc.nat(0xffff_ffff), { nil: undefined }),
        fc.boolean(),
        (at, input, time, knownFile) => {
          const frame = Buffer.alloc(FRAME_HEADER_SIZE + 80 + input.payload.length);
          const plainInput = { type: input.type, payload: input.payload };
          const end = encodeRecordFrame(frame, 0, at, plainInput, time);
          const n = plainRecordLsn(frame, FRAME_HEADER_SIZE, end);
          expect(n).toBe(at < SAFE ? Number(at) : 0);
          if (n === 0) return;
          const cursor = new RecordCursor();
          cursor.useFile(knownFile ? file : undefined);
          const built = cursor.plainRecordAt(frame, FRAME_HEADER_SIZE, end, n);
          cursor.readRecord(frame, FRAME_HEADER_SIZE, end);
          expect(built).toStrictEqual(cursor.toRecord());
          expect(built.time).toBe(
            knownFile && time !== undefined ? file.createdAtMs + time : undefined,
          );
          expect(Buffer.isBuffer(built.payload)).toBe(true);
          expect(built.payload.buffer).toBe(frame.buffer);
        },
      ),
    );
  });

  it('gives 0 for a batch body', () => {
    const frame = Buffer.alloc(256);
    const end = encodeBatchFrame(frame, 0, 7n, [{ payload: Buffer.from('a') }]);
    expect(plainRecordLsn(frame, FRAME_HEADER_SIZE, end)).toBe(0);
  });
});
