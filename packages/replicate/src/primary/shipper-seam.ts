import type { Compression, WalRecordInput } from '@walnut/codec';

// What the shipper and its owner (the primary) tell and ask each other, and how the shipper
// is sized: the seam between `shipper.ts` and `replicated-wal.ts`.

export interface ShipperEvents {
  /** Everything up to `lsn` is in the stream (acknowledged, or found there after a failure). */
  onReplicated(lsn: bigint): void;
  /** The stream holds a message of a later epoch: another primary took over. */
  onFenced(epoch: number, reason: string): void;
  /**
   * The stream holds at a place this primary wrote something else than it sent: nothing
   * more is reported replicated (the shipper stops; `counters.diverged` says why).
   */
  onDiverged(reason: string): void;
  /**
   * The stream holds less than was reported replicated (a cluster that lost what it had
   * not fsynced). Re-seed it: a new epoch and a re-seeding marker after what it holds.
   * Null when this primary was fenced meanwhile; throws to be asked again after a pause.
   */
  onRegressed(reason: string): Promise<Reseed | null>;
  /**
   * The stream ends with a RESEED marker of a later epoch at `markerSeq`: where shipping
   * goes on if it is this primary's own (a lease it took for a re-seed whose marker was
   * stored but never acknowledged to it), or null when another primary published it.
   */
  ownReseed(epoch: number, inStream: bigint, markerSeq: number): Reseed | null;
  /**
   * The log's records from `from` up to `to`, in LSN order, stopping after about
   * `maxBytes` (at least one): what a re-seeded stream lost and the shipper no longer keeps.
   */
  readLog(from: bigint, to: bigint, maxBytes: number): Promise<LoggedRecord[]>;
}

export interface LoggedRecord {
  readonly lsn: bigint;
  readonly record: WalRecordInput;
}

/** Where shipping goes on after a re-seed. */
export interface Reseed {
  readonly epoch: number;
  /** The last LSN the stream holds. */
  readonly inStream: bigint;
  /** The sequence of the re-seeding marker. */
  readonly markerSeq: number;
  /** The re-seeding marker's message id: what the next publish expects as the stream's last. */
  readonly markerId: string;
  /** Its CRC, which the next message names as the one it follows; null when not known. */
  readonly markerCrc: number | null;
}

export interface ShipperStats {
  messages: number;
  records: number;
  bytes: number;
  inFlight: number;
  failedPublishes: number;
  reconciles: number;
  stalled: boolean;
  lastError: string | null;
  /** Round trip of the last acknowledged publish. */
  lastPublishMs: number;
  /** Messages published again, byte for byte, after a failure. */
  resent: number;
  /** Why shipping stopped for good: the stream disagrees with what was sent (null: it agrees). */
  diverged: string | null;
  /** How the stream last went back below what was replicated (null: never). */
  regressed: string | null;
  /** Times the stream was re-seeded from the log after it went back. */
  reseeds: number;
  /**
   * Re-seeds not done because the cluster refused the marker: the stream's real last
   * sequence was not the one just read (a server answering with a stale copy).
   */
  staleReads: number;
  /**
   * Times a leader serving the stream short was asked to step down, so that another
   * server's copy serves it before anything is re-seeded (decision 0915).
   */
  stepDowns: number;
}

/** How the shipper groups records into messages (decision 0906). */
export interface ShipperLimits {
  /** Publishes in flight at once. */
  readonly maxInFlight: number;
  /** The most bytes one message takes (below the server's max payload). */
  readonly maxMessageBytes: number;
  /**
   * Whether a message that is not full waits — up to LINGER_MS, and while a publish is in
   * flight — to go out with what accumulates meanwhile (`async` mode: no append waits for
   * the stream's answer, and fewer, larger messages cost the client and the servers less
   * per record). When false (`sync`), every group goes out at once: an append waits for it.
   */
  readonly coalesce: boolean;
  /**
   * The primary log's compression, if it compresses: each message's records are then sent
   * compressed as the log's writer would compress them (decision 0912).
   */
  readonly compression?: Compression | undefined;
}
