import type { WalOptions } from '@walnut/wal';
import type { ProducerStamp } from './frame.js';
import type { Offset } from './offsets.js';
import type { ReadBounds } from './read.js';

/** The log's options, but a full queue always waits: a refused append would break the streams. */
export type StreamsOptions = Omit<WalOptions, 'backpressure'> & {
  /**
   * Write the index checkpoint after this many calls (default 10,000; 0: only at shutdown
   * and on `checkpoint()`), so open replays only the records after it.
   */
  readonly checkpointEvery?: number | undefined;
};

/** What open rebuilt the streams from. */
export interface StreamsRecovery {
  /** The log record the checkpoint open started from was taken at (0n: none). */
  readonly checkpointLsn: bigint;
  /** Records open replayed after it. */
  readonly replayedRecords: number;
}

export interface AppendOptions {
  /** Idempotent producer: a retry with the same stamp writes nothing and gets the original result. */
  readonly producer?: ProducerStamp | undefined;
  /** Conditional append: refused with WAL_STREAM_OFFSET_MISMATCH unless this is the tail. */
  readonly expectedTail?: Offset | undefined;
  /** Close the stream after these records, in the same record: both happen, or neither. */
  readonly close?: boolean | undefined;
  /**
   * A writer's sequence token (the Durable Streams protocol's `Stream-Seq`): refused with
   * WAL_STREAM_SEQ_CONFLICT unless it sorts (byte-wise, UTF-8) above the stream's last one;
   * kept in the append's record, so it survives restarts.
   */
  readonly streamSeq?: string | undefined;
}

export interface CreateOptions {
  /** The stream's first records, written in the create's own record: both happen, or neither. */
  readonly payloads?: Uint8Array | readonly Uint8Array[] | undefined;
  /** Create the stream closed (after `payloads`), in the same record. */
  readonly close?: boolean | undefined;
}

export interface StreamInfo {
  readonly name: string;
  /** This incarnation of the name; a name created again gets another. */
  readonly id: number;
  /** Acknowledged tail: the offset the next record gets. */
  readonly tail: number;
  readonly bytes: number;
  readonly createdAt: number;
  readonly expiresAt: number | undefined;
  readonly closed: boolean;
  readonly contentType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
  readonly producers: number;
  /** The last `streamSeq` an append gave (undefined: none yet). */
  readonly streamSeq: string | undefined;
  /** Log time of the last create, append or `touch` (ms since the epoch). */
  readonly touchedAt: number;
}

export interface TailOptions extends ReadBounds {
  readonly from?: Offset | undefined;
  /** Aborting ends the tail: its next step rejects with `signal.reason`. */
  readonly signal?: AbortSignal | undefined;
}
