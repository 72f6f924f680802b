import { expectWalError } from '@walnut/codec/testing';
import { describe, expect, it } from 'vitest';
import { nativeAddonStatus } from '../native.js';
import { alignedBuffer, alignedBufferUnavailable, DIRECT_IO_ALIGNMENT } from './aligned.js';

describe('alignedBuffer', () => {
  it('is available exactly where the addon loads, and says why not elsewhere', () => {
    const unavailable = alignedBufferUnavailable();
    expect(unavailable === null).toBe(nativeAddonStatus().loaded);
    if (unavailable !== null) expect(() => alignedBuffer(4096)).toThrow(/storage-io addon/);
  });

  it('gives a zero-filled buffer of the size asked that owns all of its memory', () => {
    const buffer = alignedBuffer(3 * DIRECT_IO_ALIGNMENT + 5);
    expect(buffer.length).toBe(3 * DIRECT_IO_ALIGNMENT + 5);
    expect(buffer.byteOffset).toBe(0);
    expect(buffer.buffer.byteLength).toBe(buffer.length);
    expect(buffer.every((byte) => byte === 0)).toBe(true);
  });

  it('refuses sizes that are not a positive whole number of bytes', () => {
    for (const size of [0, -1, 1.5, Number.NaN, 2 ** 60]) {
      expectWalError(() => alignedBuffer(size), 'WAL_BAD_ARGUMENT');
    }
  });
});
