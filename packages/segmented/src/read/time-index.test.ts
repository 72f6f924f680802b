import { describe, expect, it } from 'vitest';
import { indexSpacing, SegmentTimeIndex } from './time-index.js';

describe('a segment time index', () => {
  it('keeps the first frame at or after every spacing bytes', () => {
    const index = new SegmentTimeIndex(100n, 1000);
    index.offer(64, 100n, 10);
    index.offer(600, 105n, 20);
    index.offer(1064, 110n, 30);
    index.offer(1500, 114n, 40);
    index.offer(2100, 120n, 50);
    expect(index.before(15)).toEqual({ offset: 64, lsn: 100n, time: 10 });
    expect(index.before(30)).toEqual({ offset: 64, lsn: 100n, time: 10 });
    expect(index.before(31)).toEqual({ offset: 1064, lsn: 110n, time: 30 });
    expect(index.before(1e15)).toEqual({ offset: 2100, lsn: 120n, time: 50 });
  });

  it('names no entry for a time at or before its first', () => {
    const index = new SegmentTimeIndex(1n, 512);
    expect(index.before(5)).toBeNull();
    index.offer(64, 1n, 5);
    expect(index.before(5)).toBeNull();
    expect(index.before(6)?.lsn).toBe(1n);
  });

  it('takes the last of equal times, so a walk from it is shortest', () => {
    const index = new SegmentTimeIndex(1n, 10);
    for (let i = 0; i < 5; i++) index.offer(64 + i * 10, BigInt(1 + i), 7);
    expect(index.before(8)?.lsn).toBe(5n);
  });

  it('spaces about a thousand entries per segment, 512 B to 64 KiB apart', () => {
    expect(indexSpacing(64 << 20)).toBe(64 * 1024);
    expect(indexSpacing(1 << 30)).toBe(64 * 1024);
    expect(indexSpacing(4096)).toBe(512);
    expect(indexSpacing(1 << 20)).toBe(1024);
  });
});
