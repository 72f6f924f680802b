import { describe, expect, it } from 'vitest';
import {
  classifyAt,
  classifyDamage,
  findNextValidFrame,
  findValidFrameIn,
  lostWritesHoleEnd,
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

describe('lostWritesHoleEnd', () => {
  /** A frame at 0, damage after it up to a valid frame at 2048, and the buffer's file offset. */
  function tail(damage: (buf: Buffer) => void): Buffer {
    const buf = Buffer.alloc(2200);
    const end = encodeRecordFrame(buf, 0, 1n, { payload: Buffer.alloc(100, 7) });
    buf.fill(0x5a, end, 2048);
    damage(buf);
    encodeRecordFrame(buf, 2048, 9n, { payload: Buffer.from('later') });
    return buf;
  }
  const AT = 121; // where the first frame ends: the damage starts here

  it('finds the later frame after a zero frame header (a write that never arrived)', () => {
    const buf = tail((b) => b.fill(0, AT, AT + 8));
    expect(lostWritesHoleEnd(buf, AT, 4096 + AT)).toBe(2048);
  });

  it('finds it after a whole zero sector, aligned by the file offset, not the buffer', () => {
    const buf = tail((b) => b.fill(0, 1000, 1512));
    // The zeros are sector 1000..1512 of a buffer read from file offset 24 (1024..1536).
    expect(lostWritesHoleEnd(buf, AT, 24 + AT)).toBe(2048);
    // From file offset 0 the zeros straddle two sectors and cover neither: damage.
    expect(lostWritesHoleEnd(buf, AT, AT)).toBe(-1);
  });

  describe('a frame that begins in the last bytes of a sector that never arrived', () => {
    /** Frames from file offset 0 that end `first` bytes before the sector boundary at 1024, one there, one after it. */
    function straddling(first: number): { buf: Buffer; at: number; next: number } {
      const buf = Buffer.alloc(1600);
      const at = 1024 - first;
      let end = 0;
      for (let lsn = 1n; end + 121 <= at; lsn++)
        end += encodeRecordFrame(buf, end, lsn, { payload: Buffer.alloc(100, Number(lsn)) });
      // The last frame before `at` grows to end there (its overhead depends on its size).
      end -= 121;
      const last = (payload: number) =>
        encodeRecordFrame(buf, end, 49n, { payload: Buffer.alloc(payload, 3) });
      const over = end + last(at - end - 21) - at;
      end += last(at - end - 21 - over);
      // A body of 256 bytes or more: the length's second byte is not zero.
      const next = at + encodeRecordFrame(buf, at, 50n, { payload: Buffer.alloc(300, 9) });
      encodeRecordFrame(buf, next, 51n, { payload: Buffer.from('later') });
      expect(end).toBe(at);
      return { buf, at, next };
    }

    it.each([1, 4, 5])(
      'finds the next frame when its header lost the %i bytes before the sector boundary',
      (lost) => {
        const { buf, at, next } = straddling(lost);
        buf.fill(0, at, at + lost);
        expect(lostWritesHoleEnd(buf, at, at)).toBe(next);
      },
    );

    it('is -1 when a surviving header byte is not that of the frame up to the next one', () => {
      const { buf, at } = straddling(3);
      buf.fill(0, at, at + 3);
      buf[at + 6]! ^= 1; // the length, past the boundary: not what a lost sector leaves
      expect(lostWritesHoleEnd(buf, at, at)).toBe(-1);
    });

    it('is -1 when the body is damaged too, or the zeros stop short of the boundary', () => {
      const flipped = straddling(2);
      flipped.buf.fill(0, flipped.at, flipped.at + 2);
      flipped.buf[flipped.at + 40]! ^= 1;
      expect(lostWritesHoleEnd(flipped.buf, flipped.at, flipped.at)).toBe(-1);
      const short = straddling(4);
      short.buf.fill(0, short.at, short.at + 3);
      short.buf[short.at + 3]! ^= 0xff;
      expect(lostWritesHoleEnd(short.buf, short.at, short.at)).toBe(-1);
    });
  });

  it('is -1 for damage without zeros, a frame that checks out at the damage, or no later frame', () => {
    expect(
      lostWritesHoleEnd(
        tail(() => {}),
        AT,
        AT,
      ),
    ).toBe(-1);
    const whole = tail((b) => b.fill(0, AT, 1536));
    expect(lostWritesHoleEnd(whole, AT, AT)).toBe(2048);
    expect(lostWritesHoleEnd(whole, 0, 0)).toBe(-1);
    expect(lostWritesHoleEnd(whole.subarray(0, 2048), AT, AT)).toBe(-1);
  });

  it('refuses a file offset that is not one', () => {
    const buf = tail(() => {});
    for (const bad of [-1, 1.5, Number.NaN])
      expect(() => lostWritesHoleEnd(buf, AT, bad)).toThrow(/fileOffset/);
  });
});
