import { WalError, WalErrorCode, type WalOptions } from '@walnut/wal';
import { DEFAULT_MAX_WASTE, DEFAULT_SEGMENT_SIZE } from './compaction.js';
import type { ProducerStamp } from './frame.js';
import type { Offset } from './offsets.js';
import type { ReadBounds } from './read.js';
import { ENCRYPTED_OVERHEAD, RECORD_OVERHEAD } from './table.js';

/** The log's options, but a full queue always waits: a refused append would break the streams. */
export type StreamsOptions = Omit<WalOptions, 'backpressure'> & {
  /**
   * Write the index checkpoint after this many calls (default 10,000; 0: only at shutdown
   * and on `checkpoint()`), so open replays only the records after it.
   */
  readonly checkpointEvery?: number | undefined;
  /**
   * Dead bytes the log may hold per live byte before a compaction copies the live records
   * of its sealed segments forward (default 1; Infinity: only on `compact()`). The log then
   * stays within live bytes × (1 + maxWaste) + one segment (decision 0717).
   */
  readonly maxWaste?: number | undefined;
  /**
   * A producer idle this long (log clock, ms; default 7 days, as the Durable Streams
   * reference server; Infinity: never) is forgotten, as Kafka expires producer ids: its
   * next append must start at seq 0, and a retry from before is no longer recognised.
   */
  readonly producerTtlMs?: number | undefined;
};

const DEFAULT_MAX_RECORD = 16 * 1024 * 1024;
const DEFAULT_CHECKPOINT_EVERY = 10_000;
const DEFAULT_PRODUCER_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** The streams' settings, and the options they open the log with. */
export interface StreamsSettings {
  readonly walOptions: WalOptions;
  readonly clock: () => number;
  readonly maxRecordSize: number;
  readonly checkpointEvery: number;
  readonly maxWaste: number;
  readonly producerTtlMs: number;
  readonly segmentSize: number;
  /** Bytes a record takes in the log beyond its frame (table.ts). */
  readonly overhead: number;
}

export function resolveOptions(options: StreamsOptions): StreamsSettings {
  if ((options as WalOptions).backpressure !== undefined) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      'streams always wait for room in a full queue: leave out backpressure',
    );
  }
  const {
    checkpointEvery = DEFAULT_CHECKPOINT_EVERY,
    maxWaste = DEFAULT_MAX_WASTE,
    producerTtlMs = DEFAULT_PRODUCER_TTL_MS,
    ...walOptions
  } = options;
  if (!Number.isSafeInteger(checkpointEvery) || checkpointEvery < 0) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `checkpointEvery must be a non-negative integer (calls), got ${String(checkpointEvery)}`,
    );
  }
  if (typeof maxWaste !== 'number' || !(maxWaste > 0)) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `maxWaste must be a number above 0 (dead bytes per live byte; Infinity: compact only on compact()), got ${String(maxWaste)}`,
    );
  }
  if (typeof producerTtlMs !== 'number' || !(producerTtlMs > 0)) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `producerTtlMs must be a number of milliseconds above 0 (Infinity: never forget a producer), got ${String(producerTtlMs)}`,
    );
  }
  const clock = options.clock ?? Date.now;
  return {
    walOptions: { ...walOptions, clock },
    clock,
    maxRecordSize: options.maxRecordSize ?? DEFAULT_MAX_RECORD,
    checkpointEvery,
    maxWaste,
    producerTtlMs,
    segmentSize: options.segmentSize ?? DEFAULT_SEGMENT_SIZE,
    overhead: options.encryption === undefined ? RECORD_OVERHEAD : ENCRYPTED_OVERHEAD,
  };
}

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
