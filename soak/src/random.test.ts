import { describe, expect, it } from 'vitest';
import { Rng } from './random.js';

const draws = (rng: Rng) => Array.from({ length: 20 }, () => rng.u32());

describe('Rng', () => {
  it('draws the same numbers for the same seed, and other numbers for another', () => {
    expect(draws(new Rng(42))).toEqual(draws(new Rng(42)));
    expect(draws(new Rng(42))).not.toEqual(draws(new Rng(43)));
  });

  it('gives each case of a run its own reproducible generator', () => {
    expect(draws(Rng.forCase(1, 'damage', 7))).toEqual(draws(Rng.forCase(1, 'damage', 7)));
    expect(draws(Rng.forCase(1, 'damage', 7))).not.toEqual(draws(Rng.forCase(1, 'damage', 8)));
    expect(draws(Rng.forCase(1, 'damage', 7))).not.toEqual(draws(Rng.forCase(1, 'power', 7)));
  });

  it('keeps int() within its bounds, both included', () => {
    const rng = new Rng(5);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.int(3, 6));
    expect([...seen].sort()).toEqual([3, 4, 5, 6]);
  });
});
