import type { WalRecord } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { TailOptions, TailPosition } from '../internal/read/read-side.js';

/** What cursors ask of their Wal. */
export interface CursorHost {
  readonly dir: string;
  readonly io: StorageIo;
  readonly readOnly: boolean;
  /** The first LSN still kept. */
  floorLsn(): bigint;
  /** The last durable LSN this Wal knows of (read-only: as of its last look). */
  durableLsn(): bigint;
  /** Read-only: looks at what the writer did since (floor and end). A writer: nothing. */
  catchUp(): Promise<void>;
  /** `read.next` follows the LSN after the last record yielded (see ReadSide.tail). */
  tail(
    from: bigint,
    options: TailOptions | undefined,
    read: TailPosition,
  ): AsyncIterableIterator<WalRecord>;
  /**
   * How many suffix cuts this Wal has seen since it opened (its SuffixCuts' generation): each
   * is one generation of the log's CUT file, so a tail that read on past n of them reads the
   * history n generations after the one it started in.
   */
  cutGeneration(): number;
  /** WAL_CLOSED (or WAL_POISONED) when the Wal can no longer be used, else undefined. */
  refusal(): Error | undefined;
}
