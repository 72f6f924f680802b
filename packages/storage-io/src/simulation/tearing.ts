import { DISK_SECTOR } from '@walnut/codec';

/** A small seeded PRNG (mulberry32), so fault and tear choices can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Where a torn write of `length` bytes at `offset` stops: a random 512-byte boundary
 * of the file strictly inside the write, or `offset` (nothing survived) when the write
 * spans no boundary.
 */
export function tornEnd(offset: number, length: number, random: () => number): number {
  const first = Math.floor(offset / DISK_SECTOR) + 1;
  const last = Math.ceil((offset + length) / DISK_SECTOR) - 1;
  if (last < first) return offset;
  return (first + Math.floor(random() * (last - first + 1))) * DISK_SECTOR;
}

/**
 * Where what survives of a torn write at `offset` starts: the sector that holds its first
 * byte goes to the disk whole, with what the file held there at the cut (bytes of earlier
 * unsynced writes to that sector included), never as the write's bytes alone.
 */
export function tornStart(offset: number): number {
  return Math.floor(offset / DISK_SECTOR) * DISK_SECTOR;
}

/** The unit a page cache writes back: unsynced bytes reach the disk a page at a time. */
export const PAGE = 4096;

/**
 * The pages (`[start, end)`, clipped to `size`) of the unsynced ranges that reach the disk
 * before the power goes out: writeback takes dirty pages in no order the writer chose, so
 * each one survives or not on its own (even odds, from `random`).
 */
export function survivingPages(
  ranges: readonly (readonly [number, number])[],
  size: number,
  random: () => number,
): [number, number][] {
  const pages = new Set<number>();
  for (const [start, end] of ranges) {
    for (let page = Math.floor(start / PAGE); page * PAGE < Math.min(end, size); page++)
      pages.add(page);
  }
  const kept: [number, number][] = [];
  for (const page of [...pages].sort((a, b) => a - b)) {
    if (random() < 0.5) kept.push([page * PAGE, Math.min((page + 1) * PAGE, size)]);
  }
  return kept;
}
