import type { Wal } from '@walnut/wal';
import {
  CHECKPOINT_FILE,
  type Checkpoint,
  encodeCheckpoint,
  loadCheckpoint,
} from './checkpoint.js';
import { IndexRows, type RowsWrite } from './index-rows.js';
import { decodeRowsHead, ROWS_FILE_HEAD, ROWS_FILES } from './rows-file.js';
import type { StreamTable } from './table.js';

/** A checkpoint taken, not yet written: its bytes and its rows'. */
export interface TakenCheckpoint {
  readonly lsn: bigint;
  readonly bytes: Buffer;
  readonly rows: RowsWrite;
}

/**
 * The checkpoint and the index rows file it stands on, in the log directory as the log's
 * side files (decisions 0712, 0720): what open starts from, and what each checkpoint
 * writes, rows first.
 */
export class CheckpointFiles {
  private readonly rows = new IndexRows();

  constructor(
    private readonly wal: Wal,
    private readonly recordOverhead: number,
  ) {}

  /**
   * The checkpoint on disk with every stream's index; undefined when there is none usable.
   * One past `lastLsn`, the log's end, belongs to another history.
   */
  async load(lastLsn: bigint): Promise<Checkpoint | undefined> {
    const bytes = await this.wal.readSideFile(CHECKPOINT_FILE);
    const read = (name: string, offset: number, length: number) =>
      this.wal.readSideFile(name, { offset, length });
    const checkpoint =
      bytes === undefined ? undefined : await loadCheckpoint(bytes, this.recordOverhead, read);
    if (checkpoint !== undefined && checkpoint.lsn <= lastLsn) {
      this.rows.restored(checkpoint.rows, checkpoint.inFile, checkpoint.pieced);
      return checkpoint;
    }
    for (const name of ROWS_FILES) {
      const head = await read(name, 0, ROWS_FILE_HEAD);
      const generation = head === undefined ? undefined : decodeRowsHead(head);
      if (generation !== undefined) this.rows.seen(generation);
    }
    return undefined;
  }

  /**
   * Whether a stream's rows lie in pieces in the rows file, which the next open then copies
   * into one array: a checkpoint with `whole` (shutdown's) writes them in one piece each.
   */
  get fragmented(): boolean {
    return this.rows.fragmented;
  }

  /**
   * A checkpoint of `table` as of record `lsn`, taken synchronously while no call is in
   * flight, its rows file written whole if `whole`; undefined while an index entry's LSN is
   * not known yet.
   */
  take(
    table: StreamTable,
    lsn: bigint,
    latest: number,
    whole: boolean,
  ): TakenCheckpoint | undefined {
    const rows = this.rows.plan(table, whole);
    const bytes = encodeCheckpoint(table, lsn, latest, rows.ref);
    return bytes === undefined ? undefined : { lsn, bytes, rows };
  }

  /**
   * Writes `taken`: its rows, then the checkpoint naming them (so a crash between leaves
   * the old checkpoint, and what it names, as they were), then removes a rows file no
   * checkpoint names any more. The log must hold the records up to `taken.lsn` durably.
   */
  async write(taken: TakenCheckpoint): Promise<void> {
    const { rows } = taken;
    if (rows.offset === undefined) await this.wal.writeSideFile(rows.name, rows.bytes);
    else if (rows.bytes.length > 0)
      await this.wal.writeSideFileAt(rows.name, rows.offset, rows.bytes);
    await this.wal.writeSideFile(CHECKPOINT_FILE, taken.bytes);
    const stale = this.rows.written(rows);
    // Left behind, it only takes space until the next generation replaces it.
    if (stale !== undefined) await this.wal.removeSideFile(stale).catch(() => {});
  }
}
