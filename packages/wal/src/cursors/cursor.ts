import { badArgument, type WalRecord } from '@walnut/codec';
import type { IoLock } from '@walnut/storage-io';
import {
  checkTailOptions,
  type TailOptions,
  type TailPosition,
} from '../internal/read/read-side.js';
import type { CommitRounds } from './commit-rounds.js';
import {
  commitBelowFloorError,
  cursorBehindError,
  cursorClosedError,
  cursorPastCutError,
} from './cursor-errors.js';
import type { CursorFile } from './cursor-file.js';
import type { CursorHost } from './cursor-host.js';
import { type LastCut, readLastCut } from './last-cut.js';

/** What `Cursor.records` takes: a cursor always reads durable records only. */
export interface CursorReadOptions {
  /** Once aborted, the iteration rejects with the signal's reason (an AbortError). */
  readonly signal?: AbortSignal | undefined;
}

export interface CursorCommitOptions {
  /**
   * Once aborted, the commit stops waiting for its round and rejects with the signal's
   * reason. The write goes on (other commits share it): the position may still become
   * durable; `lsn` says where it is.
   */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A named consumer position kept durably in the log directory: read with `records()` from
 * the last committed LSN + 1, `commit(lsn)` after applying a record. After a crash the
 * consumer resumes at its last commit + 1: at least once, never a skipped record. Open it
 * with `wal.cursor(name)`, from the writer or a read-only Wal in another process.
 */
export class Cursor {
  private committed: bigint;
  /** The cut generation the position belongs to (see CursorPosition). */
  private generation: bigint;
  /**
   * The last records() started: where its tail is, with the Wal's cut count (`since`) and
   * the CUT generation (`generation`) that go together.
   */
  private reading: { read: TailPosition; since: number; generation: bigint } | undefined;
  /** The cut `records()` last refused the position for: a commit at or below it accepts it. */
  private pastCut: LastCut | undefined;
  private closed = false;

  /** @internal Use `wal.cursor(name)`. */
  constructor(
    readonly name: string,
    committed: bigint,
    generation: bigint,
    private readonly host: CursorHost,
    private readonly rounds: CommitRounds,
    private readonly file: CursorFile,
    private readonly lock: IoLock,
    private readonly onClose: (cursor: Cursor) => void,
  ) {
    this.committed = committed;
    this.generation = generation;
  }

  /** The last committed LSN (durable); 0n for a new cursor on a log that starts at LSN 1. */
  get lsn(): bigint {
    return this.committed;
  }

  /**
   * @internal The lowest position this cursor has or may land on once the commits not yet
   * durable are: what retention must keep the records after (a commit may go backwards).
   */
  get holdsFrom(): bigint {
    const unsettled = this.rounds.lowestUnsettled(this.name);
    return unsettled !== undefined && unsettled < this.committed ? unsettled : this.committed;
  }

  /**
   * Every durable record from `lsn + 1` on, then each new one as it becomes durable (a
   * tail), whatever the Wal's durability mode: a commit must be durable, and a record a
   * power loss can take back must not be applied. Ends when the Wal closes; once `signal`
   * aborts, rejects with its reason (an AbortError unless `abort(reason)` gave another).
   * WAL_CURSOR_BEHIND (with the first LSN still kept in `details.lsn`) when records
   * after the cursor were deleted, never an empty read; WAL_TRUNCATED when the log was cut
   * below the cursor.
   */
  async *records(options?: CursorReadOptions): AsyncIterableIterator<WalRecord> {
    this.throwIfUnusable();
    checkTailOptions(options, 'records(options)');
    const durableOnly = (options as TailOptions | undefined)?.durableOnly;
    if (durableOnly !== undefined && durableOnly !== true) {
      badArgument(
        'records(options): options.durableOnly',
        'true or nothing: a cursor reads durable records only, since its commits must be durable',
        durableOnly,
      );
    }
    const signal = options?.signal;
    const tailOptions: TailOptions =
      signal === undefined ? { durableOnly: true } : { signal, durableOnly: true };
    const host = this.host;
    await host.catchUp();
    await this.checkCuts();
    const read: TailPosition = { next: this.committed + 1n, since: host.cutGeneration() };
    this.reading = { read, since: read.since, generation: this.generation };
    if (read.next < host.floorLsn())
      throw cursorBehindError(this.name, read.next - 1n, host.floorLsn());
    try {
      // Handed on with `yield*`, which awaits each record once where `for await` and
      // `yield` await it twice (bench W7); the tail keeps `read` at the next LSN.
      yield* host.tail(read.next, tailOptions, read);
    } catch (error) {
      if (read.next < host.floorLsn())
        throw cursorBehindError(this.name, read.next - 1n, host.floorLsn(), error);
      throw error;
    }
  }

  /**
   * Records `lsn` as this consumer's position, durably: resolves with the LSN made durable
   * once it survives a power loss (a later commit that shared the write wins). Commits that
   * arrive while a cursor write is on disk share the next one (each cursor at its latest
   * LSN): await each one, or commit after every record and await only now and then — a
   * crash before a commit is durable only means reading those records again. `lsn` may be
   * lower than the current position (the consumer reads again from there); it must be a
   * durable LSN, and not below the first LSN still kept minus one (WAL_CURSOR_BEHIND).
   * `options.signal`: see CursorCommitOptions.
   */
  commit(lsn: bigint, options?: CursorCommitOptions): Promise<bigint> {
    const signal = options?.signal;
    try {
      this.throwIfUnusable();
      if (typeof lsn !== 'bigint' || lsn < 0n) {
        badArgument('commit(lsn): lsn', 'a bigint LSN ≥ 0n', lsn);
      }
      if (signal !== undefined && !(signal instanceof AbortSignal)) {
        badArgument('commit(lsn, options): options.signal', 'an AbortSignal', signal);
      }
      signal?.throwIfAborted();
    } catch (error) {
      return Promise.reject(error);
    }
    const done =
      lsn > this.host.durableLsn() ? this.commitAfterCatchUp(lsn) : this.commitChecked(lsn);
    return signal === undefined ? done : untilAborted(done, signal);
  }

  /** Read-only: the writer may have made `lsn` durable since this Wal last looked. */
  private async commitAfterCatchUp(lsn: bigint): Promise<bigint> {
    const host = this.host;
    await host.catchUp();
    if (lsn > host.durableLsn()) {
      badArgument(
        'commit(lsn): lsn',
        `an LSN the log holds durably (≤ ${host.durableLsn()}n): a cursor past the durable end could skip records a crash takes back`,
        lsn,
      );
    }
    return this.commitChecked(lsn);
  }

  private commitChecked(lsn: bigint): Promise<bigint> {
    const floor = this.host.floorLsn();
    if (lsn + 1n < floor)
      return Promise.reject(commitBelowFloorError(this.name, lsn, this.committed, floor));
    const reading = this.reading;
    if (reading !== undefined && reading.read.since !== reading.since) {
      // records() read on past cuts that removed nothing it handed out: what the consumer
      // commits now it read in the newer history, and a later records() must not take it
      // for a position above the cut.
      this.generation = reading.generation + BigInt(reading.read.since - reading.since);
      reading.since = reading.read.since;
      reading.generation = this.generation;
    }
    const cut = this.pastCut;
    if (cut !== undefined && lsn <= cut.afterLsn) {
      this.generation = cut.generation;
      this.pastCut = undefined;
    }
    return this.rounds.commit(this.file, lsn, this.generation, this.durable);
  }

  private readonly durable = (lsn: bigint): void => {
    this.committed = lsn;
  };

  /** Releases the cursor (its position stays on disk) so another holder may open it. */
  close(): Promise<void> {
    return this.closeThen();
  }

  /**
   * @internal Stops commits, waits for those on disk, runs `beforeRelease` (deleteCursor
   * removes the files there, still holding the lock), then releases the lock.
   */
  async closeThen(beforeRelease?: () => Promise<void>): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.rounds.idle();
      await this.file.close();
      await beforeRelease?.();
    } finally {
      this.onClose(this);
      await this.lock.release();
    }
  }

  /**
   * WAL_TRUNCATED when a suffix cut made since the position was committed lies below it. A
   * position at or below the one cut since is in both histories and goes on; after two or
   * more cuts the lower ones are not recorded, so only a commit can vouch for it.
   */
  private async checkCuts(): Promise<void> {
    const cut = await readLastCut(this.host.io, this.host.dir);
    const generation = cut?.generation ?? 0n;
    if (cut === null || generation === this.generation) {
      if (this.committed > this.host.durableLsn()) {
        throw cursorPastCutError(this.name, this.committed, this.host.durableLsn());
      }
      return;
    }
    if (generation - this.generation === 1n && this.committed <= cut.afterLsn) {
      this.generation = generation;
      return;
    }
    this.pastCut = cut;
    throw cursorPastCutError(this.name, this.committed, cut.afterLsn);
  }

  private throwIfUnusable(): void {
    const refusal = this.host.refusal();
    if (refusal) throw refusal;
    if (this.closed) throw cursorClosedError(this.name);
  }
}

/** `done`, or the signal's reason once it aborts first (`done` goes on unawaited). */
function untilAborted<T>(done: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    done.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
