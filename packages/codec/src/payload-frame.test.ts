import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { codeOf } from '../test/error-code.js';
import { WalErrorCode } from './errors.js';
import { encodePayloadFrameUnsealed, encodeRecordFrameUnsealed } from './records.js';

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
    expect(codeOf(() => encodePayloadFrameUnsealed(buf, 0, 0n, payload))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(codeOf(() => encodePayloadFrameUnsealed(buf, 0, 2n ** 64n, payload))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
    const notBytes = 'abcd' as unknown as Uint8Array;
    expect(codeOf(() => encodePayloadFrameUnsealed(buf, 0, 1n, notBytes))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
    const proxy = new Proxy(payload, {});
    expect(proxy instanceof Uint8Array).toBe(true);
    expect(codeOf(() => encodePayloadFrameUnsealed(buf, 0, 1n, proxy))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(() => encodePayloadFrameUnsealed(buf, 50, 1n, payload)).toThrow(RangeError);
  });
});
