import { describe, expect, it } from 'vitest';
import { BufferPool, MAX_POOLED_BYTES } from './buffer-pool.js';

describe('BufferPool', () => {
  it('keeps as many idle buffers as were ever out at once', () => {
    const pool = new BufferPool(4096);
    const out = Array.from({ length: 20 }, () => pool.take());
    pool.noteOut(out.length);
    for (const buf of out) pool.give(buf);
    for (let i = 0; i < 20; i++) pool.take();
    expect(pool.allocated).toBe(20);
  });

  it('never keeps more than MAX_POOLED_BYTES of idle buffers', () => {
    const size = 8 * 1024 * 1024;
    const pool = new BufferPool(size);
    pool.noteOut(1000);
    expect(pool.keep).toBe(MAX_POOLED_BYTES / size);
  });

  it('takes back only buffers of its own size', () => {
    const pool = new BufferPool(4096);
    pool.give(Buffer.alloc(8192));
    pool.take();
    expect(pool.allocated).toBe(1);
  });
});
