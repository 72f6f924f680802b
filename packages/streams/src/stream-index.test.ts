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

  it('takes rows copied into the room it is given, or adopts them as they are, then grows past them', () => {
    const room = new Float64Array(2 * ROW + 1);
    const index = new StreamIndex();
    index.fillInto(room.subarray(0, 2 * ROW));
    index.pushRows(new Float64Array([0, 5, 40]), 0, 1);
    index.pushRows(new Float64Array([9, 2, 9, 41]), 1, 1);
    index.push(4, 13, 43);
    index.pushRows(new Float64Array([6, 14, 44, 8, 15, 45]), 0, 2);
    expect(entries(index)).toEqual([
      [0, 5, 40],
      [2, 9, 41],
      [4, 13, 43],
      [6, 14, 44],
      [8, 15, 45],
    ]);
    expect([...index.view(3)]).toEqual([6, 14, 44, 8, 15, 45]);
    expect([...room]).toEqual([0, 5, 40, 2, 9, 41, 0]);

    const read = new Float64Array([0, 5, 40, 2, 9, 41, 99]);
    const adopted = new StreamIndex();
    adopted.adopt(read.subarray(0, 2 * ROW));
    adopted.setLsn(1, 11);
    expect(read[4]).toBe(11);
    adopted.push(4, 13, 43);
    expect(entries(adopted)[2]).toEqual([4, 13, 43]);
    // Grown into an array of its own: what it adopted is not written past.
    expect(read[6]).toBe(99);
  });

  it('counts the moves and clears that the rows file has not seen', () => {
    const index = new StreamIndex();
    index.push(0, 5, 40);
    index.setLsn(0, 6);
    expect(index.changes).toBe(0);
    index.move(0, 9, 30);
    index.clear();
    expect(index.changes).toBe(2);
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
    index.move(0, 70, 5);
    index.setLsn(2, 65);
    expect(index.lowestLsn()).toBe(60);
    index.clear();
    expect(index.length).toBe(0);
    expect(index.lowestLsn()).toBe(Number.POSITIVE_INFINITY);
    index.pushRows(new Float64Array([0, 30, 1, 1, 0, 1, 2, 25, 1]), 0, 3);
    expect(index.lowestLsn()).toBe(25);
    index.adopt(new Float64Array([0, 90, 1, 1, 80, 1]));
    expect(index.lowestLsn()).toBe(80);
    index.push(2, 75, 1);
    expect(index.lowestLsn()).toBe(75);
  });
});
