/** Small statistics helpers; no dependency, no surprises. */

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The q-quantile (0..1) by the nearest-rank method. */
export function quantile(sortedAscending: ArrayLike<number>, q: number): number {
  const n = sortedAscending.length;
  if (n === 0) return Number.NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sortedAscending[rank - 1]!;
}

/** Spread of repeated measurements: (max - min) / median, as a fraction. */
export function relativeSpread(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = median(values);
  return (Math.max(...values) - Math.min(...values)) / m;
}
