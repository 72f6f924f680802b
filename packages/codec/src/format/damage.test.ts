import { describe, expect, it } from 'vitest';
import {
  classifyAt,
  classifyDamage,
  findNextValidFrame,
  findValidFrameIn,
  SEARCH_EXHAUSTED,
} from './damage.js';
import { encodeRecordFrame } from './records.js';

/** Bytes where every 4-aligned offset looks like the header of a 32 KiB record frame. */
function adversarial(size: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) buf.set([0x01, 0x80, 0x00, 0x00], i);
  return buf;
}

describe('damage classification', () => {
  it('is eof over zeros, torn without a later frame, corrupt with one', () => {
    const buf = Buffer.alloc(200);
    expect(classifyDamage(buf, 0)).toBe('eof');
    buf[50] = 1;
    expect(classifyDamage(buf, 0)).toBe('torn');
    encodeRecordFrame(buf, 100, 5n, { payload: Buffer.from('later') });
    expect(classifyDamage(buf, 0)).toBe('corrupt');
    expect(findNextValidFrame(buf, 0)).toBe(100);
    expect(findNextValidFrame(buf, 101)).toBe(-1);
  });

  it('gives up on crafted bytes that would make the search quadratic, saying corrupt', () => {
    const buf = adversarial(1 << 20);
    expect(findValidFrameIn(buf, 1, buf.length, 1 << 30, 1 << 20)).toBe(SEARCH_EXHAUSTED);
    // An exhaustive search here would checksum ~8 GiB; a small budget keeps the test fast.
    expect(classifyAt(buf, 0, buf.length, 1 << 30, 1 << 20)).toBe('corrupt');
  });
});
