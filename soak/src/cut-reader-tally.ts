import { isWalError, WalErrorCode } from '@walnut/codec';
import { readChain } from './chain.js';

/** The readers the cut-readers phase runs: each reads the log the way a user would. */
export type CutReaderKind = 'wal' | 'mmap' | 'tail';
export const CUT_READER_KINDS: readonly CutReaderKind[] = ['wal', 'mmap', 'tail'];

export interface ReaderTally {
  kind: CutReaderKind;
  /** Records handed out and checked. */
  records: number;
  /** Records handed out again with the same LSN and bytes (read twice for nothing). */
  rereads: number;
  /** Reads started (tails, replays, `walnut tail -f` runs). */
  reads: number;
  /** Reads that found the record the read before ended at replaced (a cut in between). */
  cutsBetweenReads: number;
  /** `details.lsn` of every WAL_TRUNCATED. */
  truncatedAt: string[];
  /** Errors by code while reading (WAL_TRUNCATED and WAL_REPLAY_BELOW_FLOOR included). */
  errors: Record<string, number>;
  /** Errors by code of read-only opens. */
  openErrors: Record<string, number>;
  /** A few messages of errors other than WAL_TRUNCATED and WAL_REPLAY_BELOW_FLOOR. */
  samples: string[];
  violations: string[];
}

export const codeOf = (error: unknown): string =>
  (error as { code?: string })?.code ?? 'not a WalError';

/**
 * What a reader child was handed, checked as it is handed out: its LSN follows the one
 * before, and it names the CRC32C of the record before it (one history, `chain.ts`). It
 * also knows where a reader goes on after an error it is allowed to get.
 */
export class ChainCheck {
  readonly tally: ReaderTally;
  /** CRC32C of the recent records handed out, by LSN. */
  private readonly seen = new Map<bigint, number>();
  private prev: { lsn: bigint; crc: number } | null = null;
  /** Where the next read starts when there is no `prev` to go on from (0n: the floor). */
  private resume = 0n;

  constructor(kind: CutReaderKind) {
    this.tally = {
      kind,
      records: 0,
      rereads: 0,
      reads: 0,
      cutsBetweenReads: 0,
      truncatedAt: [],
      errors: {},
      openErrors: {},
      samples: [],
      violations: [],
    };
  }

  /** Where the next read starts: after the last record handed out, or `resume`. */
  get from(): bigint {
    return this.prev === null ? this.resume : this.prev.lsn + 1n;
  }

  /** Whether the next record must continue the one handed out before. */
  get chained(): boolean {
    return this.prev !== null;
  }

  /** The last record handed out, when the next must continue it. */
  get last(): { lsn: bigint; crc: number } | null {
    return this.prev;
  }

  /**
   * A new read that starts at the last record handed out finds it `crc`: the same record
   * (true: go on with the chain), or another (a cut went below it between the two reads,
   * which a read started afresh cannot know of: counted, and the chain starts again).
   */
  overlaps(lsn: bigint, crc: number): boolean {
    if (this.prev?.lsn === lsn && this.prev.crc === crc) return true;
    this.tally.cutsBetweenReads++;
    this.prev = null;
    return false;
  }

  check(lsn: bigint, payload: Uint8Array): void {
    const { tally, prev, seen } = this;
    const chain = readChain(payload);
    if (chain.lsn !== lsn) {
      tally.violations.push(`LSN ${lsn} holds the record written as LSN ${chain.lsn}`);
    }
    if (prev !== null) {
      if (lsn !== prev.lsn + 1n) tally.violations.push(`LSN ${lsn} handed out after ${prev.lsn}`);
      else if (chain.prevCrc !== prev.crc) {
        tally.violations.push(`LSN ${lsn} is of another history than LSN ${prev.lsn} before it`);
      }
    }
    if (seen.get(lsn) === chain.crc) tally.rereads++;
    seen.set(lsn, chain.crc);
    if (seen.size > 50_000) for (const key of [...seen.keys()].slice(0, 25_000)) seen.delete(key);
    this.prev = { lsn, crc: chain.crc };
    tally.records++;
  }

  /**
   * A new run of a reader that shows records it showed before on purpose (`walnut tail -f`
   * shows the last few first): no chain to the records before, nor a count of them as read
   * again.
   */
  restart(): void {
    this.prev = null;
    this.seen.clear();
  }

  /**
   * Counts a read's error and positions the next read: WAL_TRUNCATED goes on after the
   * kept LSN, WAL_REPLAY_BELOW_FLOOR at the floor. False for any other error (sampled),
   * after which the reader starts again from where it got to, without a chain.
   */
  failed(error: unknown): boolean {
    const { tally } = this;
    tally.errors[codeOf(error)] = (tally.errors[codeOf(error)] ?? 0) + 1;
    if (isWalError(error, WalErrorCode.TRUNCATED)) {
      const kept = error.details.lsn!;
      tally.truncatedAt.push(String(kept));
      if (this.prev !== null && kept < this.prev.lsn) {
        const crc = this.seen.get(kept);
        this.prev = crc === undefined ? null : { lsn: kept, crc };
        this.resume = kept + 1n;
      }
      return true;
    }
    if (isWalError(error, WalErrorCode.REPLAY_BELOW_FLOOR)) {
      // Retention deleted what was being read: read on from the floor, or from where this
      // reader got to if that is still kept. (The Wal names it floorLsn, a replay floor.)
      const details = error.details as { floorLsn?: bigint; floor?: bigint };
      const floor = details.floorLsn ?? details.floor ?? 0n;
      if (this.prev === null || this.prev.lsn + 1n < floor) {
        this.prev = null;
        this.resume = floor;
      }
      return true;
    }
    this.sample(error);
    if (this.prev !== null) this.resume = this.prev.lsn + 1n;
    this.prev = null;
    return false;
  }

  sample(error: unknown): void {
    if (this.tally.samples.length < 20) {
      this.tally.samples.push(`${this.tally.kind} ${codeOf(error)} ${String(error)}`);
    }
  }
}
