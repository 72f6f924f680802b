import { describe, expect, it } from 'vitest';
import { WriteBufferPool } from './write-buffers.js';

describe('WriteBufferPool', () => {
  it('reuses a retired buffer only once its last write has completed', () => {
    const pool = new WriteBufferPool(4096);
    const first = pool.take(64, 0);
    first.inFlight = 1;
    first.retired = true;
    pool.recycle(first);
    const second = pool.take(64 + 4096, 0);
    expect(second.buf).not.toBe(first.buf); // the StorageIo may still read the first

    first.inFlight = 0;
    pool.recycle(first);
    expect(pool.take(64 + 8192, 0).buf).toBe(first.buf);
  });

  it('reuses a buffer retired with no write in flight at once', () => {
    const pool = new WriteBufferPool(4096);
    const first = pool.take(64, 0);
    first.retired = true;
    pool.recycle(first);
    expect(pool.take(64 + 4096, 0).buf).toBe(first.buf);
  });

  it('never reuses a buffer that is not retired (entries still go into it)', () => {
    const pool = new WriteBufferPool(4096);
    const current = pool.take(64, 0);
    pool.recycle(current);
    expect(pool.take(64, 0).buf).not.toBe(current.buf);
  });

  it('gives an entry larger than the size a buffer of its own, never reused', () => {
    const pool = new WriteBufferPool(4096);
    const large = pool.take(64, 10_000);
    expect(large.buf.length).toBe(10_000);
    large.retired = true;
    pool.recycle(large);
    const next = pool.take(10_064, 0);
    expect(next.buf).not.toBe(large.buf);
    expect(next.buf.length).toBe(4096);
  });

  it('keeps two spare buffers at most', () => {
    const pool = new WriteBufferPool(4096);
    const retired = [pool.take(0, 0), pool.take(0, 0), pool.take(0, 0)];
    for (const buffer of retired) {
      buffer.retired = true;
      pool.recycle(buffer);
    }
    const taken = [pool.take(0, 0), pool.take(0, 0), pool.take(0, 0)].map((b) => b.buf);
    expect(taken.filter((buf) => retired.some((r) => r.buf === buf))).toHaveLength(2);
  });
});
