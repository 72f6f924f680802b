import { DeliverPolicy } from '@nats-io/jetstream';
import { jsonReady } from '@walnut/codec';
import { type Wal, WalError, WalErrorCode, type WalStats } from '@walnut/wal';
import { Applier, GapError } from './applier.js';
import { Backoff, pause } from './backoff.js';
import { readLease, takeLease } from './lease.js';
import { ClusterLink, describe } from './link.js';
import { type LocalState, newLocalState, readStateFor, writeLocalState } from './local-state.js';
import {
  checkWait,
  type FollowerOptions,
  type PrimaryOptions,
  type ResolvedCluster,
  resolveFollower,
  resolvePrimary,
} from './options.js';
import {
  openOnLink,
  openReplicaWal,
  restoreFromObjects,
  verifyAgainstStream,
} from './replica-log.js';
import { ReplicatedWal } from './replicated-wal.js';

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
  readonly restoredRecords: number;
  readonly reconnects: number;
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
   * Opens (or creates) the replica in `dir` and starts following `options.stream` from its
   * own last LSN: from the object store first if the stream no longer reaches back there.
   * Refuses (WAL_DIVERGED) a directory whose log disagrees with the stream.
   */
  static async open(dir: string, options: FollowerOptions): Promise<Follower> {
    const resolved = resolveFollower(options);
    const found = readStateFor(dir, resolved.stream);
    const link = await ClusterLink.open(resolved, null);
    return openOnLink(
      link,
      (maxPayload) => openReplicaWal(dir, resolved.wal, maxPayload),
      async (wal) => {
        const position = await link.lastPosition();
        const inStream = position.header === null ? 0n : position.header.lastLsn;
        if (wal.lastLsn > inStream) {
          throw new WalError(
            WalErrorCode.DIVERGED,
            `${dir} holds LSNs up to ${wal.lastLsn} but the stream '${resolved.stream}' only up to ${inStream}: LSNs ${inStream + 1n}–${wal.lastLsn} here were never replicated (the unreplicated tail of a fenced primary?); start the follower in an empty directory`,
            { details: { from: inStream + 1n, to: wal.lastLsn } },
          );
        }
        await verifyAgainstStream(link, wal, wal.lastLsn);
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
  private readonly stopper = new AbortController();
  private loop: Promise<void> | null = null;
  private waiters: {
    lsn: bigint;
    resolve: (lsn: bigint) => void;
    reject: (e: unknown) => void;
    timer: NodeJS.Timeout;
  }[] = [];
  private failure: WalError | null = null;
  private closed = false;
  private promoting = false;
  private restored = 0;
  private reconnects = 0;
  private lastError: string | null = null;

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
    this.applier.onDurable((lsn) => this.settle(lsn));
  }

  /** Why the replica stopped for good (it diverged from the stream), or null while it follows. */
  get error(): WalError | null {
    return this.failure;
  }

  /** Every record up to this LSN is durable in this replica's log. */
  get appliedLsn(): bigint {
    return this.applier.durable;
  }

  /** Resolves once `appliedLsn` ≥ `lsn`; WAL_TIMEOUT after `timeoutMs`. */
  waitFor(lsn: bigint, timeoutMs: number): Promise<bigint> {
    try {
      checkWait(lsn, timeoutMs);
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.applier.durable >= lsn) return Promise.resolve(this.applier.durable);
    if (this.failure) return Promise.reject(this.failure);
    if (this.closed)
      return Promise.reject(new WalError(WalErrorCode.CLOSED, 'the follower is closed'));
    return new Promise((resolve, reject) => {
      const waiter = {
        lsn,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(
            new WalError(
              WalErrorCode.TIMEOUT,
              `LSN ${lsn} was not applied within ${timeoutMs} ms (applied up to ${this.applier.durable}${this.lastError ? `; last error: ${this.lastError}` : ''})`,
              {
                details: { lsn, appliedLsn: this.applier.durable },
              },
            ),
          );
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  stats(): FollowerStats {
    return jsonReady<FollowerStats>({
      role: 'follower',
      stream: this.stream,
      appliedLsn: this.applier.durable,
      epoch: this.applier.epoch,
      streamSeq: this.applier.lastSeq,
      messages: this.applier.messages,
      restoredRecords: this.restored,
      reconnects: this.reconnects,
      lastError: this.lastError,
      failed: this.failure?.message ?? null,
      wal: this.wal.stats(),
    });
  }

  /**
   * Makes this replica the primary: takes the lease at the next epoch (compare-and-set),
   * applies everything the stream holds, publishes the epoch marker right after the
   * stream's last message (so the old primary's next publish fails and it is fenced), and
   * returns the new primary over this replica's log. The follower is closed.
   */
  async promote(
    options: Omit<PrimaryOptions, 'servers' | 'stream' | 'wal'> = {},
  ): Promise<ReplicatedWal> {
    if (this.closed || this.promoting)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        'this follower is closed or already being promoted',
      );
    if (this.failure) throw this.failure;
    const primaryOptions = resolvePrimary({
      ...options,
      servers: this.options.servers,
      stream: this.stream,
      wal: this.options.wal,
      connection: this.options.connection,
      requestTimeoutMs: this.options.requestTimeoutMs,
    });
    this.promoting = true;
    this.stopper.abort();
    await this.loop;
    try {
      await this.applier.drain();
      const current = await readLease(this.link.kv);
      const lease = await takeLease(this.link.kv, this.state.id, current);
      this.state = { ...this.state, role: 'primary', epoch: lease.lease.epoch };
      writeLocalState(this.dir, this.state);
      this.closed = true;
      this.rejectWaiters(
        new WalError(
          WalErrorCode.CLOSED,
          'the follower was promoted; wait on the new primary instead',
        ),
      );
      return await ReplicatedWal.begin(
        this.dir,
        this.wal,
        this.link,
        this.state,
        lease,
        primaryOptions,
      );
    } catch (error) {
      this.closed = true;
      await this.wal.close().catch(() => undefined);
      await this.link.close();
      throw error;
    }
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
    while (!signal.aborted) {
      try {
        const next = this.applier.appended + 1n;
        const found = await this.link.findSequence(next);
        if (found.seq !== null && !found.reachesBack) {
          this.restored += await restoreFromObjects(
            this.link,
            this.wal,
            this.applier,
            this.options.wal.encryption,
          );
          this.settle(this.applier.durable);
          continue;
        }
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
          !(error instanceof GapError)
        ) {
          this.fail(error);
          return;
        }
        if (error instanceof GapError) {
          // Trimmed past us: the next round restores from the object store (or fails there).
          const found = await this.link.findSequence(this.applier.appended + 1n).catch(() => null);
          if (found?.reachesBack) {
            this.fail(error);
            return;
          }
        }
        this.lastError = describe(error);
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
    try {
      for await (const m of messages) {
        await this.applier.apply(m.data, m.seq);
        backoff.reset();
        if (signal.aborted) break;
      }
    } finally {
      signal.removeEventListener('abort', stop);
      messages.stop();
    }
    if (this.applier.error) throw this.applier.error;
  }

  private settle(lsn: bigint): void {
    if (this.waiters.length === 0) return;
    const keep = [];
    for (const waiter of this.waiters) {
      if (waiter.lsn <= lsn) {
        clearTimeout(waiter.timer);
        waiter.resolve(lsn);
      } else {
        keep.push(waiter);
      }
    }
    this.waiters = keep;
  }

  private fail(error: WalError): void {
    this.failure = error;
    this.lastError = error.message;
    this.rejectWaiters(error);
  }

  private rejectWaiters(error: unknown): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}
