import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type PlanSegment, planRetention } from './plan.js';

/** A log: consecutive segments of random sizes and record counts, the last one active. */
const logArb = fc
  .array(
    fc.record({
      records: fc.integer({ min: 0, max: 20 }),
      sizeBytes: fc.integer({ min: 32, max: 5000 }),
    }),
    {
      minLength: 1,
      maxLength: 12,
    },
  )
  .chain((parts) => {
    let next = 1n;
    const segments: PlanSegment[] = parts.map((part, i) => {
      const firstLsn = next;
      next += BigInt(part.records);
      return {
        firstLsn,
        lastLsn: part.records === 0 ? null : next - 1n,
        sizeBytes: part.sizeBytes,
        sealed: i < parts.length - 1,
      };
    });
    const end = next - 1n;
    return fc.record({
      segments: fc.constant(segments),
      cursors: fc.dictionary(fc.stringMatching(/^[a-d]$/), fc.bigInt({ min: 0n, max: end })),
      maxBytes: fc.option(fc.integer({ min: 0, max: 40_000 }), { nil: undefined }),
      maxSegments: fc.option(fc.integer({ min: 0, max: 12 }), { nil: undefined }),
      maxCursorLagBytes: fc.option(fc.integer({ min: 0, max: 40_000 }), { nil: undefined }),
      // With maxAgeMs: the records below it are older than the age limit.
      agedBelow: fc.option(fc.bigInt({ min: 0n, max: end + 2n }), { nil: undefined }),
    });
  });

const lastOf = (s: PlanSegment) => s.lastLsn ?? s.firstLsn - 1n;
const sum = (segments: readonly PlanSegment[]) => segments.reduce((n, s) => n + s.sizeBytes, 0);

describe('planRetention', () => {
  it('deletes a prefix of sealed segments, never one above a cursor within its cap, never a young one by age, and stops only for a reason', () => {
    fc.assert(
      fc.property(logArb, ({ segments, cursors, ...limits }) => {
        const positions = new Map(Object.entries(cursors));
        const plan = planRetention(segments, positions, limits);
        const gone = segments.slice(0, plan.reasons.length);
        const kept = segments.slice(plan.reasons.length);
        expect(kept.length).toBeGreaterThanOrEqual(1);
        for (const segment of gone) expect(segment.sealed).toBe(true);
        const cap = limits.maxCursorLagBytes ?? Number.POSITIVE_INFINITY;
        for (const [name, lsn] of positions) {
          const lag = sum(segments.filter((s) => lastOf(s) > lsn));
          const deletesAbove = gone.some((s) => lastOf(s) > lsn);
          if (lag <= cap) expect(deletesAbove).toBe(false);
          expect(plan.passes.includes(name)).toBe(lsn + 1n < kept[0]!.firstLsn);
        }
        // Age deletes only segments wholly below agedBelow, and says so.
        plan.reasons.forEach((reason, i) => {
          if (reason === 'maxAgeMs') expect(lastOf(segments[i]!)).toBeLessThan(limits.agedBelow!);
        });
        // Over a limit after the pass only when the active segment is all that is left or a cursor holds the next one.
        const next = kept[0]!;
        const over =
          (limits.maxBytes !== undefined && sum(kept) > limits.maxBytes) ||
          (limits.maxSegments !== undefined && kept.length > limits.maxSegments) ||
          (limits.agedBelow !== undefined && next.sealed && lastOf(next) < limits.agedBelow);
        if (over) expect(kept.length === 1 || plan.heldBy !== undefined).toBe(true);
        // Nothing deleted that no limit asked for.
        if (
          limits.maxBytes === undefined &&
          limits.maxSegments === undefined &&
          limits.agedBelow === undefined
        )
          expect(gone).toEqual([]);
      }),
      { numRuns: 2000 },
    );
  });
});
