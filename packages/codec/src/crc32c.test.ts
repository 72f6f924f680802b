import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

describe('crc32c', () => {
  it('matches the Castagnoli check value', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
  });

  it('is 0 for no bytes and known values for short inputs', () => {
    expect(crc32c(Buffer.alloc(0))).toBe(0);
    // RFC 3720 (iSCSI) B.4: 32 bytes of zeros, of 0xff, and an ascending sequence.
    expect(crc32c(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
  });

  it('continues a previous result given as seed', () => {
    const data = Buffer.from('the quick brown fox jumps over the lazy dog, twice over');
    for (let cut = 0; cut <= data.length; cut++) {
      expect(crc32c(data.subarray(cut), crc32c(data.subarray(0, cut)))).toBe(crc32c(data));
    }
  });

  it('rejects what is not bytes or not a 32-bit seed', () => {
    expect(() => crc32c('abc' as unknown as Uint8Array)).toThrow(/WAL_BAD_ARGUMENT|Uint8Array/);
    expect(() => crc32c(Buffer.alloc(1), -1)).toThrow(/seed/);
    expect(() => crc32c(Buffer.alloc(1), 2 ** 32)).toThrow(/seed/);
  });
});
