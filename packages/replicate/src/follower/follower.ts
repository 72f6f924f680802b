import { DeliverPolicy } from '@nats-io/jetstream';
import { badArgument, jsonReady, pathOption } from '@walnut/codec';
import { type Wal, WalError, WalErrorCode, type WalStats } from '@walnut/wal';
import { Backoff, pause } from '../cluster/backoff.js';
import { readLease, takeLease } from '../cluster/lease.js';
import { ClusterLink, describe, lastLsnInStream } from '../cluster/link.js';
import { LsnWaiters } from '../cluster/lsn-waiters.js';
import { checkApplied, checkMark } from '../cluster/mark.js';
import { decodeHeader } from '../cluster/message.js';
import { Applier, GapError } from '../local/applier.js';
import {
  highestEpoch,
  type LocalState,
  newLocalState,
  readStateFor,
  writeLocalState,
} from '../local/local-state.js';
import {
  openOnLink,
  openReplicaWal,
  restoreFromObjects,
  verifyAgainstStream,
} from '../local/replica-log.js';
import {
  checkWait,
  type FollowerOptions,
  type PrimaryOptions,
  type ResolvedCluster,
  resolveFollower,
  resolvePrimary,
  type WaitOptions,
} from '../options.js';
import { ReplicatedWal } from '../primary/replicated-wal.js';
import { HoledCopies } from './holed-copies.js';
import { refuseBelowMark } from './promotion-guard.js';

/** How often a consumer with nothing arriving looks at the stream. */
const WATCH_MS = 2_000;
/** Rounds a gap in both the stream and the object store is looked at before WAL_BAD_STATE. */
const GAP_ROUNDS = 5;

/** What `promote()` takes: the new primary's options, and whether a known loss is accepted. */
export interface PromoteOptions extends Omit<PrimaryOptions, 'servers' | 'stream' | 'wal'> {
  /**
   * Promote even when the stream is served short of (or other than) the old primary's
   * high-water mark, dropping the acknowledged records beyond what it holds (decision 0913).
   * Only for when every copy lost them, as after a power cut of the whole cluster. Default false.
   */
  acceptLoss?: boolean;
}

export interface FollowerStats {
  readonly role: 'follower';
  readonly stream: string;
  /** Every record up to this LSN is durable in this replica's log. */
  readonly appliedLsn: bigint;
  /** The highest epoch seen in the stream. */
  readonly epoch: number;
  /** Stream sequence of the last message applied. */
  readonly streamSeq: number;
  readonly messages: number;
  /**
   * Messages of an older epoch stored after a newer one's marker, skipped (decision 0914):
   * a fenced primary's, or a server's copy out of order. Never applied.
   */
  readonly staleMessages: number;
  readonly restoredRecords: number;
  readonly reconnects: number;
  /**
   * Copies of the stream served with records missing in their middle (decision 0917): the
   * follower then consumes from another server's copy.
   */
  readonly holesMet: number;
  readonly lastError: string | null;
  /** Set when the replica stopped for good (it diverged from the stream). */
  readonly failed: string | null;
  readonly wal: WalStats;
}

/**
 * A replica of a replicated log: it copies the stream's records into its own Walnut log
 * in `dir` (same LSNs, same bytes), fsyncs them, and can be promoted to primary.
 */
export class Follower {
  /**
   * Opens (or creates) the replica in `dir` (a path or a `file:` URL) and starts following
   * `options.stream` from its own last LSN: from the object store first if the stream no
   * longer reaches back there.
   * Refuses (WAL_DIVERGED) a directory whose log disagrees with the stream, and
   * (WAL_BAD_STATE) one the cluster no longer holds the next records of.
   */
  static async open(logDir: string | URL, options: FollowerOptions): Promise<Follower> {
    const dir = pathOption(logDir, 'dir');
    const resolved = resolveFollower(options);
    const found = readStateFor(dir, resolved.stream);
    const link = await ClusterLink.open(resolved, null);
    return openOnLink(
      link,
      (maxPayload) => openReplicaWal(dir, resolved.wal, maxPayload),
      async (wal) => {
        const position = await link.lastPosition();
        const inStream = lastLsnInStream(position);
        if (wal.lastLsn > inStream) {
          throw new WalError(
            WalErrorCode.DIVERGED,
            `${dir} holds LSNs up to ${wal.lastLsn} but the stream '${resolved.stream}' only up to ${inStream}: LSNs ${inStream + 1n}–${wal.lastLsn} here were never replicated (the unreplicated tail of a fenced primary?); start the follower in an empty directory`,
            { details: { from: inStream + 1n, to: wal.lastLsn } },
          );
        }
        await verifyAgainstStream(link, wal, wal.lastLsn, resolved.wal.encryption);
        const state: LocalState =
          found === null
            ? newLocalState(resolved.stream, 'follower')
            : { ...found, role: 'follower' };
        writeLocalState(dir, state);
        const follower = new Follower(dir, wal, link, state, resolved);
        follower.start();
        return follower;
      },
    );
  }

  readonly dir: string;
  readonly stream: string;
  private readonly applier: Applier;
  private readonly holes: HoledCopies;
  private readonly stopper = new AbortController();
  private loop: Promise<void> | null = null;
  private readonly waiters = new LsnWaiters();
  private failure: WalError | null = null;
  private closed = false;
  private promoting = false;
  /** Why a promotion failed (it closed the follower). */
  private promotionError: WalError | null = null;
  private restored = 0;
  private reconnects = 0;
  private lastError: string | null = null;
  /** The stream went back: check the applied position against it before going on. */
  private recheck = false;
  /** The server whose copy the running consumer reads. */
  private servedBy: string | undefined;
  /**
   * The stream as served is short of its primary's high-water mark, or disagrees with it:
   * waits for LSNs beyond the applied one are refused with this until a look finds it whole.
   */
  private shortStream: WalError | null = null;

  private constructor(
    dir: string,
    private readonly wal: Wal,
    private readonly link: ClusterLink,
    private state: LocalState,
    private readonly options: ResolvedCluster,
  ) {
    this.dir = dir;
    this.stream = options.stream;
    this.applier = new Applier(wal, link.names.stream);
    this.holes = new HoledCopies(link);
    this.applier.onDurable((lsn) => this.settle(lsn));
    // The highest epoch seen is kept beside the log: a promotion takes one above it even
    // if the cluster lost its lease bucket.
    this.applier.onEpoch = (epoch) => {
      if (epoch <= highestEpoch(this.state)) return;
      this.state = { ...this.state, seenEpoch: epoch };
      writeLocalState(this.dir, this.state);
    };
    this.applier.onStale = (seq, epoch) => {
      this.lastError = `skipped ${this.stream}#${seq}: a message of epoch ${epoch} stored after one of epoch ${this.applier.epoch} (a fenced writer's, or a server's copy out of order), never applied`;
    };
  }

  /** Why the replica stopped for good (it diverged from the stream), or null while it follows. */
  get error(): WalError | null {
    return this.failure;
  }

  /** Every record up to this LSN is durable in this replica's log. */
  get appliedLsn(): bigint {
    return this.applier.durable;
  }

  /**
   * Resolves, with an LSN at or past `lsn`, once `appliedLsn` ≥ `lsn`; WAL_TIMEOUT after
   * `timeoutMs`. Once `options.signal` aborts, rejects with its reason (an AbortError unless
   * given another); the replica goes on applying.
   */
  waitFor(lsn: bigint, timeoutMs: number, options?: WaitOptions): Promise<bigint> {
    try {
      checkWait(lsn, timeoutMs, options);
    } catch (err) {
      return Promise.reject(err);
    }
    const signal = options?.signal;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.applier.durable >= lsn) return Promise.resolve(this.applier.durable);
    if (this.failure) return Promise.reject(this.failure);
    if (this.shortStream) return Promise.reject(this.shortStream);
    if (this.closed) return Promise.reject(WalError.closed('the follower'));
    const timedOut = () =>
      new WalError(
        WalErrorCode.TIMEOUT,
        `LSN ${lsn} was not applied within ${timeoutMs} ms (applied up to ${this.applier.durable}${this.lastError ? `; last error: ${this.lastError}` : ''})`,
        { details: { lsn, appliedLsn: this.applier.durable } },
      );
    return this.waiters.add(lsn, timeoutMs, timedOut, signal);
  }

  stats(): FollowerStats {
    return jsonReady<FollowerStats>({
      role: 'follower',
      stream: this.stream,
      appliedLsn: this.applier.durable,
      epoch: this.applier.epoch,
      streamSeq: this.applier.lastSeq,
      messages: this.applier.messages,
      staleMessages: this.applier.stale,
      restoredRecords: this.restored,
      reconnects: this.reconnects,
      holesMet: this.holes.met,
      lastError: this.lastError,
      failed: this.failure?.message ?? null,
      wal: this.wal.stats(),
    });
  }

  /**
   * Makes this replica the primary: takes the lease at the next epoch (compare-and-set),
   * applies everything the stream holds, publishes the epoch marker right after the
   * stream's last message (so the old primary's next publish fails and it is fenced), and
   * returns the new primary over this replica's log. The follower is closed. A stream served
   * short of the old primary's high-water mark is refused first (WAL_BAD_STATE, or
   * WAL_DIVERGED for another message at the mark), nothing taken and the follower still
   * following, unless `acceptLoss` says the records beyond it are gone for good.
   */
  async promote(options: PromoteOptions = {}): Promise<ReplicatedWal> {
    if (this.closed || this.promoting) throw this.notPromotable();
    if (this.failure) throw this.failure;
    const { acceptLoss = false, ...primary } = options;
    if (typeof acceptLoss !== 'boolean') {
      badArgument('options.acceptLoss', 'true or false', acceptLoss);
    }
    const primaryOptions = resolvePrimary({
      ...primary,
      servers: this.options.servers,
      stream: this.stream,
      wal: this.options.wal,
      connection: this.options.connection,
      requestTimeoutMs: this.options.requestTimeoutMs,
    });
    this.promoting = true;
    if (!acceptLoss) {
      try {
        await refuseBelowMark(this.link);
      } catch (error) {
        this.promoting = false;
        throw error;
      }
    }
    this.stopper.abort();
    await this.loop;
    try {
      await this.applier.drain();
      const current = await readLease(this.link.kv);
      const seen = Math.max(highestEpoch(this.state), this.applier.epoch);
      const lease = await takeLease(this.link.kv, this.state.id, current, seen);
      this.state = {
        ...this.state,
        role: 'primary',
        epoch: lease.lease.epoch,
        seenEpoch: lease.lease.epoch,
      };
      writeLocalState(this.dir, this.state);
      this.closed = true;
      this.rejectWaiters(
        new WalError(
          WalErrorCode.CLOSED,
          'the follower was promoted; wait on the new primary instead',
        ),
      );
      return await ReplicatedWal.begin({
        dir: this.dir,
        wal: this.wal,
        link: this.link,
        state: this.state,
        lease,
        options: primaryOptions,
      });
    } catch (error) {
      this.closed = true;
      await this.wal.close().catch(() => undefined);
      await this.link.close();
      this.promotionError = this.promotionFailed(error);
      this.rejectWaiters(this.promotionError);
      throw this.promotionError;
    }
  }

  private notPromotable(): WalError {
    const reopen = `open ${this.dir} again with Follower.open and promote that`;
    return new WalError(
      WalErrorCode.BAD_STATE,
      this.promotionError !== null
        ? `a promotion of this follower failed and closed it (${this.promotionError.code}); ${reopen}`
        : this.promoting
          ? 'this follower is being promoted, or was: use the ReplicatedWal its promote() returned'
          : `this follower is closed; ${reopen}`,
    );
  }

  /**
   * Why the promotion failed, saying what now: the follower is closed (its consumer was
   * stopped and the lease may be taken), and a new promotion starts from a reopened one.
   */
  private promotionFailed(error: unknown): WalError {
    const next = `The follower was closed: open ${this.dir} again with Follower.open and promote it once the cluster answers`;
    if (error instanceof WalError) {
      return new WalError(error.code, `${error.message}. ${next}`, {
        cause: error,
        details: error.details,
      });
    }
    return new WalError(
      WalErrorCode.IO,
      `the cluster cannot be reached to promote this follower (${describe(error)}). ${next}`,
      { cause: error },
    );
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Stops following and closes the local log and the connection. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopper.abort();
    await this.loop;
    await this.applier.drain().catch(() => undefined);
    this.rejectWaiters(new WalError(WalErrorCode.CLOSED, 'the follower closed'));
    await this.wal.shutdown().catch(() => this.wal.close());
    await this.link.close();
  }

  // ---------------------------------------------------------------- internals

  private start(): void {
    this.loop = this.follow();
  }

  /** Consumes the stream from the next LSN on, reconnecting with backoff, until stopped. */
  private async follow(): Promise<void> {
    const backoff = new Backoff();
    const signal = this.stopper.signal;
    let gapRounds = 0;
    while (!signal.aborted) {
      try {
        if (this.recheck && !(await this.recheckPosition(signal, backoff))) continue;
        const next = this.applier.appended + 1n;
        // Past a hole in one copy, the sequence after the last applied: the copies share them.
        const resume = this.holes.resumeSeq(this.applier.appended);
        const found =
          resume === null ? await this.link.findSequence(next) : { seq: resume, reachesBack: true };
        if (found.seq !== null && !found.reachesBack) {
          const restored = await restoreFromObjects(
            this.link,
            this.wal,
            this.applier,
            this.options.wal.encryption,
          );
          this.restored += restored;
          this.settle(this.applier.durable);
          if (restored > 0) {
            gapRounds = 0;
            continue;
          }
          // In neither the stream nor the object store: an upload may still be on its way,
          // so look again a few times, backing off, then stop for good (never spin).
          const first = await this.link.findSequence(0n);
          const streamHas = first.seq === null ? next : await this.firstLsnAt(first.seq);
          if (++gapRounds >= GAP_ROUNDS) throw new GapError(next, streamHas, true);
          this.lastError = new GapError(next, streamHas, true).message;
          await pause(backoff.next(), signal);
          continue;
        }
        gapRounds = 0;
        const from = found.seq ?? (await this.link.bounds()).last + 1;
        await this.consumeFrom(from, signal, backoff);
        // The consumer ended without being stopped (the connection closed, the stream
        // went away): start again from the applied position, after a pause.
        if (!signal.aborted) {
          this.reconnects++;
          await pause(backoff.next(), signal);
        }
      } catch (error) {
        if (signal.aborted) return;
        if (
          error instanceof WalError &&
          error.code !== WalErrorCode.IO &&
          (!(error instanceof GapError) || error.final)
        ) {
          this.fail(error);
          return;
        }
        this.lastError = describe(error);
        if (error instanceof GapError) {
          // Trimmed past us: the next round restores from the object store (or fails there).
          // Reaching back before the hole: the copy served lost records another may hold.
          const found = await this.link.findSequence(this.applier.appended + 1n).catch(() => null);
          if (found?.reachesBack) {
            const met = await this.holes.meet(error, this.servedBy, this.applier.lastSeq);
            if (met instanceof WalError) {
              this.fail(met);
              return;
            }
            this.lastError = met;
          }
        }
        this.reconnects++;
        await pause(backoff.next(), signal);
      }
    }
  }

  private async consumeFrom(fromSeq: number, signal: AbortSignal, backoff: Backoff): Promise<void> {
    const consumer = await this.link.js.consumers.get(this.link.names.stream, {
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: fromSeq,
    });
    const messages = await consumer.consume({ max_messages: 256 });
    const stop = () => messages.stop();
    signal.addEventListener('abort', stop, { once: true });
    // Aborted while the consumer was being created: the listener above never fires.
    if (signal.aborted) stop();
    const watchdog = this.watchStream(stop, fromSeq);
    this.servedBy = undefined;
    try {
      for await (const m of messages) {
        if (watchdog.seen++ === 0) {
          // Known once the consumer delivers: the ordered consumer creates it meanwhile.
          this.servedBy = (await consumer.info(true)).cluster?.leader;
          if (this.holes.avoids(this.servedBy)) break;
        }
        try {
          await this.applier.apply(m.data, m.seq);
        } catch (error) {
          // The ordered consumer may have moved to another server since its first message.
          if (error instanceof GapError)
            this.servedBy = (await consumer.info(true)).cluster?.leader;
          throw error;
        }
        backoff.reset();
        if (signal.aborted) break;
      }
    } finally {
      clearInterval(watchdog.timer);
      signal.removeEventListener('abort', stop);
      messages.stop();
    }
    if (this.applier.error) throw this.applier.error;
  }

  /**
   * While a consumer runs, looks at the stream whenever nothing arrived for a while. A
   * stream that went back (deleted, recreated, re-seeded) or a consumer that stopped
   * delivering what the stream holds ends the consumer (`stop`): the loop starts again
   * from the applied position, checking it against the stream first if it went back.
   */
  private watchStream(stop: () => void, fromSeq: number): { seen: number; timer: NodeJS.Timeout } {
    const watchdog = { seen: 0, timer: undefined as unknown as NodeJS.Timeout };
    let seenAtLastLook = 0;
    let idleLooks = 0;
    let looking = false;
    watchdog.timer = setInterval(() => {
      if (looking || watchdog.seen !== seenAtLastLook) {
        seenAtLastLook = watchdog.seen;
        idleLooks = 0;
        return;
      }
      looking = true;
      this.link
        .lastPosition()
        .then(async (position) => {
          // A mark that cannot be read (the bucket lost with the cluster's power, being
          // re-created) must not keep the rest of the look from seeing the stream go back.
          await this.checkAgainstMark().catch((error: unknown) => {
            this.lastError = `reading the high-water mark: ${describe(error)}`;
          });
          const inStream = lastLsnInStream(position);
          if (position.seq < this.applier.lastSeq || inStream < this.applier.appended) {
            this.recheck = true;
            this.lastError = `the stream went back to sequence ${position.seq} (LSN ${inStream}) below this replica's ${this.applier.lastSeq} (LSN ${this.applier.appended})`;
            stop();
          } else if (
            position.seq > Math.max(this.applier.lastSeq, fromSeq - 1) &&
            ++idleLooks >= 2
          ) {
            this.lastError = `the consumer delivered nothing while the stream holds sequence ${position.seq} (applied ${this.applier.lastSeq}); consuming again`;
            stop();
          }
        })
        .catch((error) => {
          this.lastError = describe(error);
        })
        .finally(() => {
          looking = false;
        });
    }, WATCH_MS);
    watchdog.timer.unref();
    return watchdog;
  }

  /**
   * After the stream went back: waits (backing off) until it holds this replica's last LSN
   * again, then checks that message against the log. False while the stream is behind.
   */
  private async recheckPosition(signal: AbortSignal, backoff: Backoff): Promise<boolean> {
    const upTo = this.applier.appended;
    if (upTo > 0n && (await this.link.findSequence(upTo)).seq === null) {
      await pause(backoff.next(), signal);
      return false;
    }
    await verifyAgainstStream(this.link, this.wal, upTo, this.options.wal.encryption);
    this.recheck = false;
    return true;
  }

  /**
   * A stream found short of (or disagreeing with) the primary's high-water mark is no
   * "caught up": every wait for more is refused with why, until a later look finds it
   * whole. Messages applied whose running checksum is not the mark's stop the follower for
   * good (decision 0910).
   */
  private async checkAgainstMark(): Promise<void> {
    const { mark, wrong } = await checkMark(this.link);
    this.shortStream = wrong;
    if (wrong !== null) {
      this.lastError = wrong.message;
      this.rejectWaiters(wrong);
      return;
    }
    // What this replica applied is its log: another history there is no passing state.
    const applied =
      mark === null
        ? null
        : checkApplied(mark, (...at) => this.applier.runs.at(...at), this.stream);
    if (applied === null) return;
    this.fail(applied);
    this.stopper.abort();
  }

  private async firstLsnAt(seq: number): Promise<bigint> {
    const data = await this.link.messageAt(seq);
    return data === null ? 0n : decodeHeader(data, `${this.stream}#${seq}`).firstLsn;
  }

  private settle(lsn: bigint): void {
    this.waiters.reached(lsn);
  }

  private fail(error: WalError): void {
    this.failure = error;
    this.lastError = error.message;
    this.rejectWaiters(error);
  }

  private rejectWaiters(error: WalError): void {
    this.waiters.rejectAll(error);
  }
}
