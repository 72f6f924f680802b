/**
 * The index of the last element ≤ `value` in `sorted` (ascending), by binary search; 0 when
 * every element is above it.
 */
export function lastAtOrBefore<T extends number | bigint>(sorted: readonly T[], value: T): number {
  let low = 0;
  let high = sorted.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >>> 1;
    if (sorted[mid]! <= value) low = mid;
    else high = mid - 1;
  }
  return low;
}
