import { describe, expect, it } from 'vitest';
import { SettleMarks } from './settle-marks.js';

describe('SettleMarks', () => {
  it('settles the bytes of the last mark a written LSN covers, once', () => {
    const marks = new SettleMarks(100);
    marks.add(3n, 120);
    marks.add(7n, 230);
    marks.add(9n, 340);
    expect(marks.settledBy(2n)).toBe(-1);
    expect(marks.settledBy(7n)).toBe(230);
    expect(marks.settledBy(8n)).toBe(-1);
    expect(marks.settledBy(100n)).toBe(340);
    expect(marks.settledBy(100n)).toBe(-1);
    expect(marks.nextAt).toBe(440);
  });

  it('forgets marks of rolled-back records', () => {
    const marks = new SettleMarks(10);
    marks.add(3n, 10);
    marks.add(5n, 20);
    marks.dropAbove(4n);
    marks.add(6n, 30);
    expect(marks.settledBy(5n)).toBe(10);
    expect(marks.settledBy(6n)).toBe(30);
  });
});
