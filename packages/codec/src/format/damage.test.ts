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

  it('finds the later frame after zeros from a frame header to its sector end (a write that never arrived)', () => {
    const buf = tail((b) => b.fill(0, AT, 512));
    expect(lostWritesHoleEnd(buf, AT, 4096 + AT)).toBe(2048);
  });

  it('is -1 for a zero frame header whose zeros stop short of the sector end (issue 57)', () => {
    // A lost write leaves whole sectors as they were; 22 zeros over a header are damage.
    const zeroedTo = (end: number) => tail((b) => b.fill(0, AT, end));
    expect(lostWritesHoleEnd(zeroedTo(AT + 22), AT, 4096 + AT)).toBe(-1);
    expect(lostWritesHoleEnd(zeroedTo(511), AT, 4096 + AT)).toBe(-1);
  });

  it('finds it after a whole zero sector, aligned by the file offset, not the buffer', () => {
    const buf = tail((b) => b.fill(0, 1000, 1512));
    // The zeros are sector 1000..1512 of a buffer read from file offset 24 (1024..1536).
    expect(lostWritesHoleEnd(buf, AT, 24 + AT)).toBe(2048);
    // From file offset 0 the zeros straddle two sectors and cover neither: damage.
    expect(lostWritesHoleEnd(buf, AT, AT)).toBe(-1);
  });

  describe('a frame that begins in the last bytes of a sector that never arrived', () => {
    /**
     * A frame at file offset `1024 - lost` (buffer index 0) whose header lost its first
     * `lost` bytes, those before the sector boundary, and a valid frame after it. Its body
     * is 256 bytes or more, so the length's second byte is not zero.
     */
    function cutHeader(lost: number): { buf: Buffer; next: number; fileOffset: number } {
      const buf = Buffer.alloc(400);
      const next = encodeRecordFrame(buf, 0, 50n, { payload: Buffer.alloc(300, 9) });
      encodeRecordFrame(buf, next, 51n, { payload: Buffer.from('later') });
      buf.fill(0, 0, lost);
      return { buf, next, fileOffset: 1024 - lost };
    }

    it.each([1, 4, 5])(
      'finds the next frame when its header lost the %i bytes before the sector boundary',
      (lost) => {
        const { buf, next, fileOffset } = cutHeader(lost);
        expect(lostWritesHoleEnd(buf, 0, fileOffset)).toBe(next);
      },
    );

    it('is -1 when a surviving header byte is not that of the frame up to the next one', () => {
      const { buf, fileOffset } = cutHeader(3);
      buf[6]! ^= 1; // the length, past the boundary: not what a lost sector leaves
      expect(lostWritesHoleEnd(buf, 0, fileOffset)).toBe(-1);
    });

    it('is -1 when the body is damaged too, or the zeros stop short of the boundary', () => {
      const flipped = cutHeader(2);
      flipped.buf[40]! ^= 1;
      expect(lostWritesHoleEnd(flipped.buf, 0, flipped.fileOffset)).toBe(-1);
      // Three zero bytes, then a byte that is not, before a boundary 4 bytes on.
      const short = cutHeader(3);
      short.buf[3]! |= 0x80;
      expect(lostWritesHoleEnd(short.buf, 0, short.fileOffset - 1)).toBe(-1);
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
