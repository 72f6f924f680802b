import { describe, expect, it } from 'vitest';
import { makePayload, PAYLOAD_HEADER, readPayload } from './payload.js';

describe('self-describing payloads', () => {
  it('say who wrote them', () => {
    const key = { epoch: 3, producer: 17, seq: 12345 };
    expect(readPayload(makePayload(key, 500))).toEqual(key);
    expect(makePayload(key, 5).length).toBe(PAYLOAD_HEADER);
  });

  it('are refused when any byte differs, or when they are not ours', () => {
    const payload = makePayload({ epoch: 1, producer: 2, seq: 3 }, 300);
    for (const at of [0, 5, 17, 200, 299]) {
      const damaged = Buffer.from(payload);
      damaged[at] = damaged[at]! ^ 0x10;
      expect(readPayload(damaged)).toBeNull();
    }
    expect(readPayload(payload.subarray(0, 299))).toBeNull();
    expect(readPayload(Buffer.alloc(300))).toBeNull();
  });
});
