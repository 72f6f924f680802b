import { describe, expect, it } from 'vitest';
import { interleavedRounds } from './schedule.js';

const order = (slots: { rep: number; contender: string }[]) =>
  slots.map((slot) => `${slot.contender}${slot.rep}`);

describe('interleaved rounds', () => {
  it('runs every contender once per round before the next round starts', () => {
    const slots = interleavedRounds(3, ['floor', 'wal', 'lmdb']);
    for (let round = 0; round < 3; round++) {
      const inRound = slots.slice(round * 3, round * 3 + 3);
      expect(inRound.every((slot) => slot.rep === round + 1)).toBe(true);
      expect(new Set(inRound.map((slot) => slot.contender)).size).toBe(3);
    }
  });

  it('starts each round one contender later, so no contender is always first', () => {
    expect(order(interleavedRounds(3, ['floor', 'wal', 'lmdb']))).toEqual([
      ...['floor1', 'wal1', 'lmdb1'],
      ...['wal2', 'lmdb2', 'floor2'],
      ...['lmdb3', 'floor3', 'wal3'],
    ]);
  });

  it('keeps the given order for a single repetition (the floor first in a quick run)', () => {
    expect(order(interleavedRounds(1, ['floor', 'wal']))).toEqual(['floor1', 'wal1']);
  });

  it('plans nothing without contenders', () => {
    expect(interleavedRounds(3, [])).toEqual([]);
  });
});
