import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { WalErrorCode } from '../errors/errors.js';
import { expectWalError } from '../testing/index.js';
import {
  encodePayloadFramesUnsealed,
  encodePayloadFrameUnsealed,
  encodeRecordFrameUnsealed,
} from './records.js';

describe('encodePayloadFrameUnsealed', () => {
  it('writes the bytes encodeRecordFrameUnsealed writes for { payload }, at any offset and LSN', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.bigInt({ min: 1n, max: 2n ** 64n - 1n }),
        fc.nat(40),
        (bytes, lsn, offset) => {
          // A view into a larger buffer, as payloads usually are.
          const payload = Buffer.concat([Buffer.from([9, 9]), bytes]).subarray(2);
          const size = 20 + payload.length;
          const fast = Buffer.alloc(offset + size, 0xee);
          const general = Buffer.alloc(offset + size, 0xee);
          expect(encodePayloadFrameUnsealed(fast, offset, lsn, payload)).toBe(size);
          expect(encodeRecordFrameUnsealed(general, offset, lsn, { payload })).toBe(size);
          expect(fast.equals(general)).toBe(true);
        },
      ),
    );
  });

  it('refuses what the general encoder refuses, and a Proxy posing as a Uint8Array', () => {
    const buf = Buffer.alloc(64);
    const payload = Buffer.alloc(4);
    expectWalError(
      () => encodePayloadFrameUnsealed(buf, 0, 0n, payload),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodePayloadFrameUnsealed(buf, 0, 2n ** 64n, payload),
      WalErrorCode.BAD_ARGUMENT,
    );
    const notBytes = 'abcd' as unknown as Uint8Array;
    expectWalError(
      () => encodePayloadFrameUnsealed(buf, 0, 1n, notBytes),
      WalErrorCode.BAD_ARGUMENT,
    );
    const proxy = new Proxy(payload, {});
    expect(proxy instanceof Uint8Array).toBe(true);
    expectWalError(() => encodePayloadFrameUnsealed(buf, 0, 1n, proxy), WalErrorCode.BAD_ARGUMENT);
    expectWalError(
      () => encodePayloadFrameUnsealed(buf, 50, 1n, payload),
      WalErrorCode.BAD_ARGUMENT,
    );
  });
});

describe('encodePayloadFramesUnsealed', () => {
  it('writes what encodePayloadFrameUnsealed writes for each payload of the range, LSNs consecutive', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 12 }),
        fc.nat(12),
        fc.nat(12),
        // LSNs near a 2^32 boundary too, where the low half wraps into the high one.
        fc.oneof(
          fc.bigInt({ min: 1n, max: 2n ** 63n }),
          fc.bigInt({ min: 2n ** 32n - 8n, max: 2n ** 32n + 8n }),
        ),
        (list, a, b, firstLsn) => {
          const payloads = list.map((bytes) =>
            Buffer.concat([Buffer.from([7]), bytes]).subarray(1),
          );
          const from = Math.min(a, b, payloads.length);
          const to = Math.min(Math.max(a, b), payloads.length);
          const size = payloads.slice(from, to).reduce((sum, p) => sum + 20 + p.length, 0);
          const bulk = Buffer.alloc(3 + size, 0xee);
          const single = Buffer.alloc(3 + size, 0xee);
          expect(encodePayloadFramesUnsealed(bulk, 3, firstLsn, payloads, from, to)).toBe(size);
          let at = 3;
          for (let i = from; i < to; i++) {
            at += encodePayloadFrameUnsealed(single, at, firstLsn + BigInt(i - from), payloads[i]!);
          }
          expect(bulk.equals(single)).toBe(true);
        },
      ),
    );
  });

  it('refuses a payload that is not bytes, naming its index, and a frame that does not fit', () => {
    const buf = Buffer.alloc(64);
    const good = Buffer.alloc(4);
    const bad = [good, 'abcd' as unknown as Uint8Array];
    expect(() => encodePayloadFramesUnsealed(buf, 0, 1n, bad, 0, 2)).toThrow(/payloads\[1\]/);
    expectWalError(
      () => encodePayloadFramesUnsealed(buf, 0, 1n, bad, 0, 2),
      WalErrorCode.BAD_ARGUMENT,
    );
    // The range stops before the bad one: nothing is refused.
    expect(encodePayloadFramesUnsealed(buf, 0, 1n, bad, 0, 1)).toBe(24);
    expectWalError(
      () => encodePayloadFramesUnsealed(buf, 0, 1n, [good, good, good], 0, 3),
      WalErrorCode.BAD_ARGUMENT,
    );
  });

  it('refuses a range outside the list, and LSNs past 2^64-1', () => {
    const buf = Buffer.alloc(256);
    const list = [Buffer.alloc(1), Buffer.alloc(1)];
    expectWalError(
      () => encodePayloadFramesUnsealed(buf, 0, 1n, list, 1, 0),
      WalErrorCode.BAD_ARGUMENT,
    );
    const past = expectWalError(
      () => encodePayloadFramesUnsealed(buf, 0, 1n, list, 0, 3),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(past.message).toContain('payloads has 2 entries; pass to ≤ 2');
    expect(encodePayloadFramesUnsealed(buf, 0, 2n ** 64n - 2n, list, 0, 2)).toBe(42);
    expectWalError(
      () => encodePayloadFramesUnsealed(buf, 0, 2n ** 64n - 1n, list, 0, 2),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodePayloadFramesUnsealed(buf, 0, 0n, list, 0, 1),
      WalErrorCode.BAD_ARGUMENT,
    );
  });
});
