import {
  encodeRowsChunks,
  encodeRowsHead,
  ROWS_FILE_HEAD,
  type RowsRead,
  type RowsRun,
  rowsFileName,
} from './rows-file.js';
import type { StreamIndex } from './stream-index.js';
import type { StreamTable } from './table.js';

/** The rows file a checkpoint stands on: its generation and how many of its bytes count. */
export interface RowsRef {
  readonly generation: number;
  readonly length: number;
}

/**
 * Dead rows (of deleted streams) the file may hold before it is written whole again,
 * beside at least as many live ones; and runs, beside twice as many rows (below).
 */
const MIN_DEAD_ROWS = 65_536;
const MIN_RUNS = 65_536;

/** What one checkpoint writes of the index rows, and what the file holds once it has. */
export interface RowsWrite {
  readonly name: string;
  /** Where `bytes` go; undefined: they are the whole file, a new generation. */
  readonly offset: number | undefined;
  readonly bytes: Buffer;
  readonly ref: RowsRef;
  readonly inFile: RowsRead;
  /** Each index with its entry count and changes as written. */
  readonly written: readonly (readonly [StreamIndex, number, number])[];
}

/**
 * The writer's side of the index rows file (decision 0720): each checkpoint appends the
 * rows added since the last one, and writes the file whole, as a new generation under the
 * other name, when a row it holds changed (a compaction's move), when dead rows or runs
 * outnumber the rest, or when asked (shutdown's). Until the checkpoint naming a write is
 * durable, the file it names stays what it was: a chunk is written past the length the
 * current checkpoint counts, a new generation under the name the current checkpoint does
 * not use.
 */
export class IndexRows {
  /** The file the last checkpoint stands on; undefined: the next one writes a file whole. */
  private ref: RowsRef | undefined;
  /** The newest generation known to be on disk: a new one is above it. */
  private generation = 0;
  private inFile: RowsRead = { rows: 0, runs: 0 };
  /** See `fragmented`. */
  private pieced = false;

  /** The rows file a checkpoint named, read back at open, and what it holds. */
  restored(ref: RowsRef, inFile: RowsRead, pieced: boolean): void {
    this.ref = ref;
    this.generation = ref.generation;
    this.inFile = inFile;
    this.pieced = pieced;
  }

  /**
   * Whether a stream's rows lie in more than one run of the file: an open copies such rows
   * into one array, where it takes a stream's single run as it was read.
   */
  get fragmented(): boolean {
    return this.pieced;
  }

  /**
   * A rows file of `generation` is on disk, though no checkpoint this open uses names it:
   * a new generation must not take its number, or a reader holding an old checkpoint could
   * take the new file for the one that checkpoint named.
   */
  seen(generation: number): void {
    this.generation = Math.max(this.generation, generation);
  }

  /**
   * The write a checkpoint of `table` makes now, the whole file if `whole`; it changes
   * nothing until `written`.
   */
  plan(table: StreamTable, whole = false): RowsWrite {
    let live = 0;
    let fresh = 0;
    const ref = this.ref;
    if (ref === undefined) whole = true;
    for (const s of table.all()) {
      live += s.index.flushed;
      fresh += s.index.length - s.index.flushed;
      if (s.index.changes !== s.index.flushedChanges) whole = true;
    }
    const { rows, runs: runsInFile } = this.inFile;
    if (rows - live > Math.max(live + fresh, MIN_DEAD_ROWS)) whole = true;
    // Streams appended to between every two checkpoints add a run of a row or two each:
    // written whole once runs pass half the rows, the file stays within 1.5 times the rows'
    // bytes, and an open reads few runs per row. The file doubles between two such writes,
    // so each row is written about twice in all.
    if (runsInFile > Math.max((live + fresh) / 2, MIN_RUNS)) whole = true;
    const runs: RowsRun[] = [];
    const written: [StreamIndex, number, number][] = [];
    for (const s of table.all()) {
      const { index } = s;
      const first = whole ? 0 : index.flushed;
      if (index.length > first) runs.push({ id: s.id, first, rows: index.view(first) });
      written.push([index, index.length, index.changes]);
    }
    const chunks = encodeRowsChunks(runs);
    if (ref !== undefined && !whole) {
      return {
        name: rowsFileName(ref.generation),
        offset: ref.length,
        bytes: chunks,
        ref: { generation: ref.generation, length: ref.length + chunks.length },
        inFile: { rows: rows + fresh, runs: runsInFile + runs.length },
        written,
      };
    }
    const generation = this.generation + 1;
    const bytes = Buffer.concat([encodeRowsHead(generation), chunks]);
    return {
      name: rowsFileName(generation),
      offset: undefined,
      bytes,
      ref: { generation, length: ROWS_FILE_HEAD + chunks.length },
      inFile: { rows: live + fresh, runs: runs.length },
      written,
    };
  }

  /**
   * `write` is durable and a checkpoint naming it too; returns, after a new generation, the
   * other name, whose file (the generation before, or one an earlier history left) no
   * checkpoint needs any more.
   */
  written(write: RowsWrite): string | undefined {
    this.ref = write.ref;
    this.generation = Math.max(this.generation, write.ref.generation);
    if (write.offset === undefined) this.pieced = false;
    else if (write.bytes.length > 0) this.pieced = true;
    this.inFile = write.inFile;
    for (const [index, entries, changes] of write.written) {
      index.flushed = entries;
      index.flushedChanges = changes;
    }
    return write.offset === undefined ? rowsFileName(write.ref.generation + 1) : undefined;
  }
}
