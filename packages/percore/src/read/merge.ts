import type { CoreEntry } from '@walnut/codec';

/**
 * Merges the entries of several cores into one deterministic order:
 *
 * 1. by epoch (entries of epoch e come before those of e + 1 as long as each core's epochs
 *    never go back, which writers guarantee);
 * 2. each core's own order (its sequence order — the order of `perCore[i]`) is always kept;
 * 3. cores are interleaved by timestamp, ties broken by core id.
 *
 * It is a k-way merge that only ever compares the next entry of each core, so a clock that
 * stepped backwards can make the interleaving less faithful to wall time but can never reorder
 * one core's entries. The result depends only on the entries, not on the order of `perCore`.
 */
export function mergeCoreEntries(perCore: ReadonlyArray<readonly CoreEntry[]>): CoreEntry[] {
  const lists = perCore.filter((list) => list.length > 0);
  const total = lists.reduce((sum, list) => sum + list.length, 0);
  const merged: CoreEntry[] = new Array(total);
  if (lists.length === 1) {
    const only = lists[0]!;
    for (let i = 0; i < total; i++) merged[i] = only[i]!;
    return merged;
  }
  const heads = new Array<number>(lists.length).fill(0);
  for (let out = 0; out < total; out++) {
    let best = -1;
    let bestEntry: CoreEntry | undefined;
    for (let i = 0; i < lists.length; i++) {
      const candidate = lists[i]![heads[i]!];
      if (candidate === undefined) continue;
      if (bestEntry === undefined || comesBefore(candidate, bestEntry)) {
        best = i;
        bestEntry = candidate;
      }
    }
    merged[out] = bestEntry!;
    heads[best] = heads[best]! + 1;
  }
  return merged;
}

function comesBefore(a: CoreEntry, b: CoreEntry): boolean {
  if (a.epoch !== b.epoch) return a.epoch < b.epoch;
  if (a.timestampNs !== b.timestampNs) return a.timestampNs < b.timestampNs;
  if (a.coreId !== b.coreId) return a.coreId < b.coreId;
  return a.sequence < b.sequence;
}
