import { describe, expect, it } from 'vitest';
import { loadCodecCrc32c } from './crc.js';
import { encodeFrame, FRAME_HEADER_BYTES, FrameError, parseFrames } from './framing.js';

const crc32c = await loadCodecCrc32c();

function framed(payloads: Uint8Array[]): { buffer: Buffer; end: number } {
  const buffer = Buffer.alloc(payloads.reduce((n, p) => n + FRAME_HEADER_BYTES + p.length, 0));
  let end = 0;
  for (const payload of payloads) end = encodeFrame(buffer, end, payload, crc32c);
  return { buffer, end };
}

describe('the floor framing [len u32][crc32c u32][payload]', () => {
  it('uses the Castagnoli CRC (the standard check value of "123456789")', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('gives back every payload, in order, byte for byte', () => {
    const payloads = [
      Buffer.from('a'),
      Buffer.alloc(0),
      Buffer.alloc(70_000, 7),
      Buffer.from('end'),
    ];
    const { buffer, end } = framed(payloads);
    const seen: Buffer[] = [];
    const consumed = parseFrames(buffer, end, crc32c, (p) => seen.push(Buffer.from(p)));
    expect(consumed).toBe(end);
    expect(seen).toEqual(payloads);
  });

  it('stops at the start of an incomplete frame so the next chunk can finish it', () => {
    const { buffer, end } = framed([Buffer.from('first'), Buffer.from('second')]);
    const firstEnd = FRAME_HEADER_BYTES + 5;
    const seen: string[] = [];
    expect(parseFrames(buffer, end - 1, crc32c, (p) => seen.push(Buffer.from(p).toString()))).toBe(
      firstEnd,
    );
    expect(seen).toEqual(['first']);
  });

  it('rejects a frame whose payload no longer matches its CRC', () => {
    const { buffer, end } = framed([Buffer.from('payload')]);
    buffer[FRAME_HEADER_BYTES + 2] = buffer[FRAME_HEADER_BYTES + 2]! ^ 0x01;
    expect(() => parseFrames(buffer, end, crc32c, () => {})).toThrow(FrameError);
  });
});
