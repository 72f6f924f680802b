import { describe, expect, it } from 'vitest';
import { checkPayload, makePayload } from './payload.js';

describe('demo payloads', () => {
  it('check out as the producer and sequence number that made them', () => {
    expect(checkPayload(makePayload(7, 12345, 512), 512)).toEqual({ producer: 7, seq: 12345 });
    expect(checkPayload(makePayload(0, 0, 8), 8)).toEqual({ producer: 0, seq: 0 });
  });

  it('differ from record to record beyond the header', () => {
    const a = makePayload(1, 1, 64).subarray(8);
    expect(a.equals(makePayload(1, 2, 64).subarray(8))).toBe(false);
    expect(a.equals(makePayload(2, 1, 64).subarray(8))).toBe(false);
  });

  it('fail the check when any byte changed or the size is wrong', () => {
    for (const at of [0, 5, 8, 100, 511]) {
      const p = makePayload(3, 99, 512);
      p[at] = p[at]! ^ 0x01;
      expect(checkPayload(p, 512)).toBeNull();
    }
    expect(checkPayload(makePayload(3, 99, 512).subarray(0, 500), 512)).toBeNull();
  });
});
