import { describe, expect, it } from 'vitest';
import { ROW, StreamIndex } from './stream-index.js';

function entries(index: StreamIndex): number[][] {
  return Array.from({ length: index.length }, (_, i) => [
    index.start(i),
    index.lsn(i),
    index.size(i),
  ]);
}

describe('a stream index', () => {
  it('keeps each entry it is given, in order, as it grows', () => {
    const index = new StreamIndex();
    for (let i = 0; i < 100; i++) index.push(i * 2, i + 10, 30 + i);
    expect(index.length).toBe(100);
    expect(entries(index)[57]).toEqual([114, 67, 87]);
    expect(index.view()).toHaveLength(100 * ROW);
  });

  it('restored from rows, reads them without a copy and copies them the first time it grows', () => {
    const checkpoint = new Float64Array([0, 5, 40, 2, 9, 41, 7, 12, 42, 99]);
    const index = new StreamIndex(checkpoint.subarray(0, 2 * ROW));
    expect(entries(index)).toEqual([
      [0, 5, 40],
      [2, 9, 41],
    ]);
    index.setLsn(1, 11);
    expect(checkpoint[4]).toBe(11);
    index.push(4, 13, 43);
    expect(entries(index)).toEqual([
      [0, 5, 40],
      [2, 11, 41],
      [4, 13, 43],
    ]);
    // The next stream's rows in the checkpoint were not written over.
    expect([...checkpoint.subarray(6)]).toEqual([7, 12, 42, 99]);
  });

  it('finds entries by start, and the entry holding an offset', () => {
    const index = new StreamIndex();
    for (const start of [0, 3, 4, 10]) index.push(start, 1, 1);
    expect([0, 3, 4, 10, 5, -1].map((s) => index.indexOfStart(s))).toEqual([0, 1, 2, 3, -1, -1]);
    expect([0, 2, 3, 9, 10, 500].map((o) => index.lastAtOrBefore(o))).toEqual([0, 0, 1, 2, 3, 3]);
  });

  it('knows its lowest acknowledged LSN, wherever a compaction moved entries', () => {
    const index = new StreamIndex();
    expect(index.lowestLsn()).toBe(Number.POSITIVE_INFINITY);
    index.push(0, 50, 1);
    index.push(1, 20, 1);
    index.push(2, 0, 1);
    expect(index.lowestLsn()).toBe(20);
    index.move(1, 60, 5);
    expect(index.lowestLsn()).toBe(50);
    expect(index.size(1)).toBe(5);
    index.clear();
    expect(index.length).toBe(0);
    expect(index.lowestLsn()).toBe(Number.POSITIVE_INFINITY);
  });
});
