import { randomBytes } from 'node:crypto';
import { compressionOption, MIN_COMPRESSED_BODY, zstdImplementation } from '@walnut/codec';
import { describe, expect, it } from 'vitest';
import { CompressionGate, MISSES_TO_SKIP, RETRY_EVERY } from './compression-gate.js';

const json = (i: number) =>
  Buffer.from(JSON.stringify({ id: i, items: Array.from({ length: 20 }, () => ({ sku: 'a1' })) }));

/** How many of the next `n` bodies of `size` bytes the gate tries. */
function tries(gate: CompressionGate, n: number, body: () => Uint8Array): number {
  let tried = 0;
  for (let i = 0; i < n; i++) {
    const b = body();
    if (gate.take(b.length) !== undefined) {
      tried++;
      gate.compress(b);
    }
  }
  return tried;
}

describe.skipIf(zstdImplementation().encoder === null)(
  'CompressionGate (a runtime whose node:zlib writes zstd)',
  () => {
    const gate = () => new CompressionGate(compressionOption('zstd'));

    it('tries every body that compresses well', () => {
      const g = gate();
      expect(tries(g, 200, () => json(1))).toBe(200);
    });

    it('after bodies in a row that do not shrink, tries one in RETRY_EVERY', () => {
      const g = gate();
      const random = () => randomBytes(1000);
      expect(tries(g, MISSES_TO_SKIP, random)).toBe(MISSES_TO_SKIP);
      expect(tries(g, RETRY_EVERY * 4, random)).toBe(4);
    });

    it('tries every body again once one of its retries shrinks well', () => {
      const g = gate();
      tries(g, MISSES_TO_SKIP, () => randomBytes(1000));
      expect(tries(g, RETRY_EVERY, () => json(2))).toBe(1);
      expect(tries(g, 50, () => json(3))).toBe(50);
    });

    it('returns the body as it is when compressing does not make it smaller', () => {
      const body = randomBytes(1000);
      expect(gate().compress(body)).toBe(body);
      expect(gate().compress(json(4)).length).toBeLessThan(json(4).length);
    });
  },
);

describe('CompressionGate.take', () => {
  it('never tries a body shorter than MIN_COMPRESSED_BODY', () => {
    // take() alone does not compress: it runs on every runtime.
    const g = new CompressionGate({ codec: 'zstd', level: 3 });
    expect(g.take(MIN_COMPRESSED_BODY - 1)).toBeUndefined();
    expect(g.take(MIN_COMPRESSED_BODY)).toBe(g);
  });
});
