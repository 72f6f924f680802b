import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { codecAddon, crc32c, crc32cImplementation, crc32cRange } from './crc32c.js';
import { crc32cJs } from './crc32c-js.js';

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

describe('crc32c implementations', () => {
  it('JavaScript and native paths agree on every length, offset and seed', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.nat(40),
        fc.nat(0xffffffff),
        (data, cut, seed) => {
          const start = Math.min(cut, data.length);
          const expected = crc32cJs(data, start, data.length, seed);
          expect(crc32cRange(data, start, data.length, seed)).toBe(expected);
          expect(crc32c(data.subarray(start), seed)).toBe(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reads bytes in shared memory too', () => {
    const shared = new Uint8Array(new SharedArrayBuffer(5000));
    for (let i = 0; i < shared.length; i++) shared[i] = (i * 2654435761) >>> 24;
    for (const n of [0, 31, 32, 128, 4999]) {
      const expected = crc32cJs(shared, 1, 1 + n, 7);
      expect(crc32c(shared.subarray(1, 1 + n), 7)).toBe(expected);
      expect(crc32cRange(shared, 1, 1 + n, 7)).toBe(expected);
    }
  });

  it('says which implementation it uses and why', () => {
    expect(['addon', 'native+js', 'js']).toContain(crc32cImplementation.backend);
    expect(crc32cImplementation.reason).toMatch(/JavaScript/);
  });

  it.skipIf(codecAddon === null)(
    `uses the addon at every length under WALNUT_CRC32C=native${codecAddon === null ? ' (skipped: the addon is not loaded)' : ''}`,
    async () => {
      vi.resetModules();
      vi.stubEnv('WALNUT_CRC32C', 'native');
      try {
        const fresh = await import('./crc32c.js');
        expect(fresh.crc32cImplementation.reason).toMatch(/every length/);
        for (const n of [1, 5, 31, 200]) {
          const data = Buffer.alloc(n, n);
          expect(fresh.crc32c(data, 3)).toBe(crc32cJs(data, 0, n, 3));
        }
      } finally {
        vi.unstubAllEnvs();
      }
    },
  );

  it('falls back to pure JavaScript when asked to', async () => {
    vi.resetModules();
    vi.stubEnv('WALNUT_CRC32C', 'js');
    try {
      const fresh = await import('./crc32c.js');
      expect(fresh.crc32cImplementation.backend).toBe('js');
      expect(fresh.crc32c(Buffer.alloc(5000, 7))).toBe(crc32cJs(Buffer.alloc(5000, 7), 0, 5000, 0));
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
