import { describe, expect, it } from 'vitest';
import { applyDamage, describeDamage, planDamage } from './damage.js';
import { Rng } from './random.js';

const segments = ['a.wal', 'b.wal', 'c.wal', 'd.wal'];
const files = new Map(segments.map((s, i) => [s, Buffer.alloc(4096 + i * 100, i + 1)]));

describe('damage plans', () => {
  it('are the same for the same seed and case', () => {
    for (let i = 0; i < 20; i++) {
      const a = planDamage(Rng.forCase(9, 'damage', i), segments, files);
      const b = planDamage(Rng.forCase(9, 'damage', i), segments, files);
      expect(a).toEqual(b);
      expect(applyDamage(files, a)).toEqual(applyDamage(files, b));
      expect(describeDamage(a)).toBe(describeDamage(b));
    }
  });

  it('never remove the first or the last segment, and stay inside the files', () => {
    const kinds = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      for (const d of planDamage(Rng.forCase(1, 'damage', i), segments, files)) {
        kinds.add(d.kind);
        if (d.kind === 'remove') expect(['b.wal', 'c.wal']).toContain(d.file);
        if (d.kind === 'flip') expect(d.offset).toBeLessThan(files.get(d.file)!.length);
        if (d.kind === 'truncate') expect(d.length).toBeLessThan(files.get(d.file)!.length);
      }
    }
    expect([...kinds].sort()).toEqual(['flip', 'remove', 'truncate', 'zero']);
  });

  it('are applied to copies, leaving the template as it was', () => {
    const before = new Map([...files].map(([n, b]) => [n, Buffer.from(b)]));
    const damaged = applyDamage(files, [
      { kind: 'flip', file: 'a.wal', offset: 10, bit: 3 },
      { kind: 'zero', file: 'b.wal', offset: 4000, length: 1000 },
      { kind: 'truncate', file: 'c.wal', length: 7 },
      { kind: 'remove', file: 'd.wal' },
    ]);
    expect(files).toEqual(before);
    expect(damaged.get('a.wal')![10]).toBe(1 ^ 8);
    expect(damaged.get('b.wal')!.subarray(4000)).toEqual(Buffer.alloc(196));
    expect(damaged.get('b.wal')![3999]).toBe(2);
    expect(damaged.get('c.wal')!.length).toBe(7);
    expect(damaged.has('d.wal')).toBe(false);
  });
});
