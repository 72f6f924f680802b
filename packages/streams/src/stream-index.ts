/** Numbers per entry: start, LSN, size. */
export const ROW = 3;
/** Entries a stream's first append makes room for. */
const FIRST_ROWS = 4;
const NO_ROWS = new Float64Array(0);

/**
 * A stream's index: for each of its log records, the offset of its first payload
 * (ascending), the record's LSN (0 until its append is acknowledged; a number, since LSNs
 * stay far below 2^53) and the bytes it takes in the log (a copy record's entries share
 * it). Rows of three numbers in one Float64Array that doubles when full.
 *
 * It also knows what the index rows file holds of it (decision 0720): the first `flushed`
 * entries, as they were when `changes` (moves and clears) was `flushedChanges`.
 */
export class StreamIndex {
  /** Entries the rows file holds, from the first. */
  flushed = 0;
  /** Moves and clears so far: the rows file is behind on those while it differs from `flushedChanges`. */
  changes = 0;
  flushedChanges = 0;

  private rows: Float64Array = NO_ROWS;
  private count = 0;
  /**
   * The lowest acknowledged LSN, kept as entries come (a reclaim asks for it after every
   * checkpoint); undefined when a move or rows taken whole left it to be found again.
   */
  private lowest: number | undefined = Number.POSITIVE_INFINITY;

  get length(): number {
    return this.count;
  }

  start(i: number): number {
    return this.rows[i * ROW]!;
  }

  lsn(i: number): number {
    return this.rows[i * ROW + 1]!;
  }

  size(i: number): number {
    return this.rows[i * ROW + 2]!;
  }

  setLsn(i: number, lsn: number): void {
    this.forget(i);
    this.rows[i * ROW + 1] = lsn;
    this.lower(lsn);
  }

  /** Entry `i`'s record is now the one at `lsn`, taking `size` bytes (a compaction's copy). */
  move(i: number, lsn: number, size: number): void {
    this.forget(i);
    this.rows[i * ROW + 1] = lsn;
    this.lower(lsn);
    this.rows[i * ROW + 2] = size;
    this.changes++;
  }

  push(start: number, lsn: number, size: number): void {
    let at = this.count * ROW;
    if (at + ROW > this.rows.length) this.grow();
    const rows = this.rows;
    rows[at++] = start;
    rows[at++] = lsn;
    rows[at] = size;
    this.count++;
    this.lower(lsn);
  }

  /**
   * Takes `rows` as its entries, not copied, while it has none (a restored stream's that
   * lie in one piece where they were read); it moves to an array of its own when it grows.
   */
  adopt(rows: Float64Array): void {
    this.rows = rows;
    this.count = rows.length / ROW;
    this.lowest = undefined;
  }

  /**
   * Takes `room` as the array its entries go to, while it has none (a restored stream's, a
   * view of one array for every stream, so that an open allocates once); it moves to an
   * array of its own when it grows past it.
   */
  fillInto(room: Float64Array): void {
    this.rows = room;
    this.count = 0;
  }

  /** Appends the `count` rows at `numbers[from..]`, copied. */
  pushRows(numbers: Float64Array, from: number, count: number): void {
    let at = this.count * ROW;
    const end = at + count * ROW;
    while (end > this.rows.length) this.grow();
    const rows = this.rows;
    // Runs of a row or two are copied by a loop, which costs less than a view to `set` from.
    if (count > 4) rows.set(numbers.subarray(from, from + count * ROW), at);
    else for (let i = from; at < end; ) rows[at++] = numbers[i++]!;
    this.count += count;
    this.lowest = undefined;
  }

  clear(): void {
    this.count = 0;
    this.changes++;
    this.lowest = Number.POSITIVE_INFINITY;
  }

  /** Entries `from` to the end as rows (a view: valid until the index changes). */
  view(from = 0): Float64Array {
    return this.rows.subarray(from * ROW, this.count * ROW);
  }

  /** The entry starting at `start`, or -1 (binary search). */
  indexOfStart(start: number): number {
    let low = 0;
    let high = this.count - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const at = this.start(mid);
      if (at === start) return mid;
      if (at < start) low = mid + 1;
      else high = mid - 1;
    }
    return -1;
  }

  /** The last entry starting at or before `offset`; 0 when every entry starts after it. */
  lastAtOrBefore(offset: number): number {
    let low = 0;
    let high = this.count - 1;
    while (low < high) {
      const mid = (low + high + 1) >>> 1;
      if (this.start(mid) <= offset) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  /** The lowest LSN of an acknowledged entry (compactions move entries up), or Infinity. */
  lowestLsn(): number {
    if (this.lowest !== undefined) return this.lowest;
    let lowest = Number.POSITIVE_INFINITY;
    for (let i = 1; i < this.count * ROW; i += ROW) {
      const lsn = this.rows[i]!;
      if (lsn !== 0 && lsn < lowest) lowest = lsn;
    }
    this.lowest = lowest;
    return lowest;
  }

  /** Entry `i`'s LSN is about to change: if it was the lowest, the lowest is found again. */
  private forget(i: number): void {
    if (this.rows[i * ROW + 1] === this.lowest) this.lowest = undefined;
  }

  private lower(lsn: number): void {
    if (lsn !== 0 && this.lowest !== undefined && lsn < this.lowest) this.lowest = lsn;
  }

  private grow(): void {
    const rows = new Float64Array(Math.max(FIRST_ROWS * ROW, 2 * this.rows.length));
    rows.set(this.view());
    this.rows = rows;
  }
}
