import { badArgument, compressionSetting, jsonReady } from '@walnut/codec';
import {
  Batch,
  isWalError,
  type Wal,
  WalError,
  WalErrorCode,
  type WalRecordInput,
} from '@walnut/wal';
import { pause } from '../cluster/backoff.js';
import { watchLease } from '../cluster/lease.js';
import type { ClusterLink } from '../cluster/link.js';
import { MarkKeeper } from '../cluster/mark.js';
import { maxMessageBytes, recordSizeCap, recordTooLarge } from '../cluster/record-limit.js';
import { SegmentUploader } from '../cluster/uploader.js';
import { historyEnd } from '../local/history.js';
import { type LocalState, writeLocalState } from '../local/local-state.js';
import { copyRecord, recordInput } from '../local/shipped-records.js';
import {
  checkRecord,
  checkWait,
  type PrimaryOptions,
  type ResolvedPrimary,
  type WaitOptions,
} from '../options.js';
import { AckWaiters } from './ack-waiters.js';
import { type EpochStart, publishEpochMarker } from './epoch-marker.js';
import { type FencedReport, Fencing } from './fencing.js';
import { guarantee } from './guarantee.js';
import { type LeasedPrimary, openPrimary } from './primary-open.js';
import type { ReplicatedWalStats } from './primary-stats.js';
import { ReplicationLag } from './replication-lag.js';
import { Reseeder } from './reseed.js';
import { SharedSync } from './shared-sync.js';
import { Shipper } from './shipper.js';
import type { LoggedRecord } from './shipper-seam.js';

/**
 * A Walnut log whose records are also stored in a NATS JetStream stream, for followers
 * (`Follower`) to copy. `append` resolves once the record is durable here and — in `sync`
 * mode — once JetStream acknowledged the message holding it. See README.md.
 */
export class ReplicatedWal {
  /**
   * Opens (or creates) the local log in `dir` (a path or a `file:` URL) as the primary of
   * `options.stream`: takes
   * the primary lease at a new epoch (refused with WAL_FENCED if another node took it
   * from this one), reconciles the local log with the stream, publishes the epoch marker
   * and starts shipping.
   */
  static open(dir: string | URL, options: PrimaryOptions): Promise<ReplicatedWal> {
    return openPrimary(dir, options, (leased) => ReplicatedWal.begin(leased));
  }

  /**
   * @internal With the lease taken: brings the local log level with the stream, publishes
   * the epoch marker right after the stream's last message, and starts shipping.
   */
  static async begin(leased: LeasedPrimary): Promise<ReplicatedWal> {
    const { dir, wal, link, state, lease, options } = leased;
    const epoch = lease.lease.epoch;
    const start = await publishEpochMarker(link, wal, epoch, options.wal.encryption);
    const primary = new ReplicatedWal(dir, wal, link, state, epoch, options, start);
    await primary.start(lease.revision);
    return primary;
  }

  readonly dir: string;
  readonly stream: string;
  /** The epoch this primary holds (a re-seed after the stream went back takes a new one). */
  private held: number;
  private readonly shipper: Shipper;
  private readonly uploader: SegmentUploader | null;
  /** Writes the high-water mark readers check a stream against (decision 0910). */
  private readonly marks: MarkKeeper;
  private readonly fencing: Fencing;
  private readonly acks: AckWaiters;
  private readonly lag = new ReplicationLag();
  /** The largest record or batch (payload + meta) taken: what one stream message holds, at most. */
  private readonly maxRecordSize: number;
  private closed = false;
  /** Set when the stream holds something else than this primary sent: it stops for good. */
  private divergence: WalError | null = null;
  private closing: Promise<void> | null = null;
  /** Set at a takeover: resolves once its report is final (`settleFence`). */
  private settling: Promise<void> | null = null;
  private stopWatch: (() => void) | null = null;
  private readonly sync: SharedSync;
  private readonly reseeder: Reseeder;

  private constructor(
    dir: string,
    private readonly wal: Wal,
    private readonly link: ClusterLink,
    private state: LocalState,
    epoch: number,
    private readonly options: ResolvedPrimary,
    start: EpochStart,
  ) {
    this.dir = dir;
    this.stream = options.stream;
    this.held = epoch;
    const cap = recordSizeCap(link.nc.info?.max_payload);
    this.maxRecordSize = Math.min(options.wal.maxRecordSize ?? cap, cap);
    this.sync = new SharedSync(wal);
    this.shipper = new Shipper(
      link,
      epoch,
      {
        maxInFlight: options.maxInFlight,
        maxMessageBytes: maxMessageBytes(link.nc.info?.max_payload),
        coalesce: options.mode === 'async',
        // The Wal checked it already when it opened; the messages compress as its frames do.
        compression:
          options.wal.compression === undefined
            ? undefined
            : compressionSetting(options.wal.compression, 'wal.compression'),
      },
      {
        replicatedLsn: start.inStream,
        streamSeq: start.streamSeq,
        lastId: start.lastId,
        lastCrc: start.lastCrc,
      },
      {
        onReplicated: (lsn) => this.replicated(lsn),
        onFenced: (byEpoch, reason) => this.fence(byEpoch, reason),
        onDiverged: (reason) => this.diverge(reason),
        onRegressed: () => this.reseeder.reseed(),
        ownReseed: (epoch, inStream, markerSeq) => this.reseeder.own(epoch, inStream, markerSeq),
        readLog: (from, to, maxBytes) => this.readLog(from, to, maxBytes),
      },
    );
    this.uploader = options.uploadSegments
      ? new SegmentUploader(wal, link, () => link.recreateObjects(options))
      : null;
    this.marks = new MarkKeeper(
      () => this.link.kv,
      () => this.shipper.mark(),
    );
    this.fencing = new Fencing(this.stream);
    this.acks = new AckWaiters(this.shipper, this.fencing);
    this.reseeder = new Reseeder(link, wal, options, {
      held: () => this.held,
      state: () => this.state,
      fence: (byEpoch, reason) => this.fence(byEpoch, reason),
      leaseTaken: async (lease) => {
        this.state = { ...this.state, epoch: lease.lease.epoch, seenEpoch: lease.lease.epoch };
        writeLocalState(this.dir, this.state);
        await this.watch(lease.revision, lease.lease.epoch);
      },
      reseeded: (epoch, inStream) => {
        this.held = epoch;
        this.uploader?.restart(inStream);
      },
    });
  }

  private async start(leaseRevision: number): Promise<void> {
    // The local tail the stream does not have yet counts as lag from now on.
    // It is read once, here; records appended from now on are handed to the shipper as
    // their appends resolve, never read back.
    if (this.wal.lastLsn > this.shipper.replicatedLsn) {
      let bytes = 0;
      await this.wal.replay(this.shipper.replicatedLsn + 1n, (r) => {
        bytes += r.payload.length + (r.meta?.length ?? 0);
        this.shipper.push(r.lsn, recordInput(r));
      });
      this.lag.mark(this.wal.lastLsn, bytes, this.shipper.replicatedLsn);
    }
    await this.watch(leaseRevision);
    await this.uploader?.start(this.shipper.replicatedLsn);
  }

  /** Fences this primary as soon as another node takes the lease written after `leaseRevision`. */
  private async watch(leaseRevision: number, epoch = this.held): Promise<void> {
    this.stopWatch?.();
    this.stopWatch = await watchLease(this.link.kv, leaseRevision, (lease) => {
      // Its own lease is no takeover, whatever the epoch: a later one is its re-seed's, an
      // earlier one a lease bucket that went back. Seed 7272 saw that after power cuts: a
      // server's copy of the bucket, 11 revisions longer than the one the lease was
      // written to, came to serve it, and the primary fenced itself at its own epoch 3.
      if (lease !== null && lease.holder === this.state.id) return;
      this.fence(
        lease?.epoch ?? epoch,
        `the primary lease was ${lease === null ? 'deleted' : `taken at epoch ${lease.epoch}`}`,
      );
    });
  }

  /** The epoch this primary holds. */
  get epoch(): number {
    return this.held;
  }

  /** Last LSN appended locally. */
  get lastLsn(): bigint {
    return this.wal.lastLsn;
  }

  /** Every record up to this LSN is durable locally. */
  get durableLsn(): bigint {
    return this.wal.durableLsn;
  }

  /** Every record up to this LSN is in the stream (acknowledged by JetStream). */
  get replicatedLsn(): bigint {
    return this.shipper.replicatedLsn;
  }

  get mode(): 'sync' | 'async' {
    return this.options.mode;
  }

  /**
   * Set once another node took over and the stream was read for what it holds of this
   * primary's (its `unreplicated` range is final): this primary never acknowledges again.
   */
  get fenced(): FencedReport | null {
    return this.fencing.settled;
  }

  /**
   * Appends one record. `sync`: resolves with its LSN once it is durable here and the
   * stream acknowledged it; rejects with WAL_NOT_REPLICATED (the record IS durable
   * locally) when the cluster does not answer within `replicationTimeoutMs`. `async`:
   * resolves once it is durable here.
   */
  append(payload: Uint8Array, meta?: Uint8Array): Promise<bigint> {
    try {
      checkRecord(payload, meta);
    } catch (err) {
      return Promise.reject(err);
    }
    // The copy is what the shipper publishes; taken now, so the caller may reuse its buffers
    // as soon as append returns, as with Wal.append.
    const record: WalRecordInput =
      meta === undefined
        ? { payload: Buffer.from(payload) }
        : { payload: Buffer.from(payload), meta: Buffer.from(meta) };
    const bytes = payload.length + (meta?.length ?? 0);
    if (bytes > this.maxRecordSize)
      return Promise.reject(this.tooLarge('the record (payload + meta) is', bytes));
    return this.appendRecords([record], bytes);
  }

  /** Appends a batch atomically (locally); resolves with its last LSN as `append` does. */
  appendBatch(batch: Batch): Promise<bigint> {
    let records: WalRecordInput[];
    try {
      if (!Batch.isBatch(batch)) {
        badArgument('appendBatch(batch)', 'a Batch (new Batch().add(payload).add(…))', batch);
      }
      if (batch.byteLength > this.maxRecordSize) {
        throw this.tooLarge('the batch holds', batch.byteLength, ' of payload and meta');
      }
      records = batch.take().map(copyRecord);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.appendRecords(records, batch.byteLength);
  }

  private tooLarge(what: string, bytes: number, of = ''): WalError {
    const cap = recordSizeCap(this.link.nc.info?.max_payload);
    return recordTooLarge(what, bytes, this.maxRecordSize, cap, of);
  }

  /**
   * A single record is appended with `appendQueued`, which hands out its LSN at once: the
   * shipper can publish it while the local fdatasync runs, and the append waits for both
   * (docs/decisions/0901). A batch, or a record the Wal's queue has no room for, is shipped
   * once its append resolved (durable).
   */
  private async appendRecords(records: WalRecordInput[], bytes: number): Promise<bigint> {
    await this.admit(bytes);
    let last: bigint;
    try {
      last = await this.appendLocally(records);
    } catch (error) {
      this.lag.release(bytes);
      this.madeRoom();
      throw error;
    }
    return this.appended(last, bytes);
  }

  /** Appends `records` here and hands them to the shipper; resolves with the last LSN, durable. */
  private async appendLocally(records: WalRecordInput[]): Promise<bigint> {
    let last: bigint | undefined;
    if (records.length === 1) last = this.appendNow(records[0]!);
    if (last === undefined) {
      if (records.length === 1) {
        const only = records[0]!;
        last = await (only.meta === undefined
          ? this.wal.append(only.payload)
          : this.wal.append(only.payload, only.meta));
      } else {
        const batch = new Batch();
        for (const record of records) batch.addRecord(record);
        last = await this.wal.appendBatch(batch);
      }
      const first = last - BigInt(records.length - 1);
      for (let i = 0; i < records.length; i++) this.shipper.push(first + BigInt(i), records[i]!);
    } else {
      this.shipper.push(last, records[0]!);
      await this.sync.durable(last);
    }
    return last;
  }

  /** `appendQueued` the record; undefined when the Wal's queue is full (then `append` waits). */
  private appendNow(record: WalRecordInput): bigint | undefined {
    try {
      return record.meta === undefined
        ? this.wal.appendQueued(record.payload)
        : this.wal.appendQueued(record.payload, record.meta);
    } catch (error) {
      if (isWalError(error, WalErrorCode.BACKPRESSURE)) return undefined;
      throw error;
    }
  }

  /**
   * Resolves once every record up to `lsn` is in the stream; WAL_TIMEOUT after `timeoutMs`.
   * Once `options.signal` aborts, rejects with its reason (an AbortError unless given
   * another); the records stay in the local log and are still shipped.
   */
  waitReplicated(lsn: bigint, timeoutMs: number, options?: WaitOptions): Promise<bigint> {
    try {
      checkWait(lsn, timeoutMs, options);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.acks.waitFor(
      lsn,
      timeoutMs,
      (at) =>
        new WalError(
          WalErrorCode.TIMEOUT,
          `LSN ${lsn} was not replicated within ${timeoutMs} ms (replicated up to ${at}); wait again or check the cluster`,
          {
            details: { lsn, replicatedLsn: at },
          },
        ),
      options?.signal,
    );
  }

  stats(): ReplicatedWalStats {
    return jsonReady<ReplicatedWalStats>({
      role: 'primary',
      mode: this.options.mode,
      stream: this.stream,
      epoch: this.epoch,
      lastLsn: this.wal.lastLsn,
      durableLsn: this.wal.durableLsn,
      replicatedLsn: this.shipper.replicatedLsn,
      lag: {
        records: this.wal.lastLsn - this.shipper.replicatedLsn,
        bytes: this.lag.bytes,
        ms: this.lag.ms,
      },
      maxLagBytes: this.options.maxLagBytes,
      streamSeq: this.shipper.streamSeq,
      connectedServer: this.link.nc.getServer() || null,
      shipper: { ...this.shipper.counters },
      uploads: this.uploader ? { ...this.uploader.counters } : SegmentUploader.off(),
      fenced: this.fencing.settled,
      guarantee: guarantee(this.options.replicas, this.link.nc.info?.version ?? 'unknown'),
      wal: this.wal.stats(),
    });
  }

  /** `await using x = …` closes it when the scope ends, as `close()` does. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Stops: waits (up to `timeoutMs`) for the shipper to publish what is durable, then closes
   * the local log and the connection. A `sync` append still waiting is rejected with
   * WAL_NOT_REPLICATED and its LSN: it is in the local log (never WAL_CLOSED, which says a
   * record is not), and is shipped when the log opens again as primary. A `waitReplicated`
   * for an LSN never appended is rejected with WAL_CLOSED.
   */
  close(timeoutMs = 5_000): Promise<void> {
    this.closing ??= this.doClose(timeoutMs);
    return this.closing;
  }

  private async doClose(timeoutMs: number): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    if (this.fencing.report === null) {
      await this.acks
        .waitFor(this.wal.lastLsn, timeoutMs, () => new Error('timeout'))
        .catch(() => undefined);
    }
    const lastLsn = this.wal.lastLsn;
    const replicated = this.replicatedLsn;
    this.acks.rejectAll((lsn) =>
      lsn <= lastLsn
        ? new WalError(
            WalErrorCode.NOT_REPLICATED,
            `the replicated log closed before LSN ${lsn} was replicated (replicated up to LSN ${replicated}). It is durable in the local log and is shipped when the log is opened again as primary — unless another node is promoted first, which reports it as unreplicated. Do not append it again, and do not count it as replicated.`,
            { details: { lsn, replicatedLsn: replicated, locallyDurable: true } },
          )
        : new WalError(
            WalErrorCode.CLOSED,
            `the replicated log closed while waiting for LSN ${lsn}, which was never appended (the last is LSN ${lastLsn})`,
            { details: { lsn, lastLsn } },
          ),
    );
    this.stopWatch?.();
    const stopping = Promise.all([this.shipper.stop(), this.uploader?.stop(), this.marks.stop()]);
    // A publish or upload still in flight when the time is up (each may wait a whole
    // requestTimeoutMs on a cluster that does not answer) ends with the connection: what it
    // carried is durable here, and the next open reconciles it with the stream.
    const stopped = new AbortController();
    await Promise.race([stopping, pause(Math.max(0, deadline - Date.now()), stopped.signal)]);
    // Its timer must not outlive a close that finished first: it would hold the process open.
    stopped.abort();
    await this.link.close();
    await stopping;
    await this.wal.shutdown().catch(() => this.wal.close());
  }

  private refusal(): WalError | null {
    if (this.fencing.report !== null) return this.fencing.error();
    if (this.divergence !== null) return this.divergence;
    if (this.closed) return WalError.closed('the replicated log', 'open it again to append');
    return null;
  }

  /**
   * Waits while the unreplicated bytes, counting the appends admitted before, are over
   * `maxLagBytes` (or refuses, per `lagPolicy`); then counts `bytes` as admitted.
   */
  private async admit(bytes: number): Promise<void> {
    for (;;) {
      // Until the takeover's report is final it names LSNs whose publishes were in flight,
      // which the stream's history may hold: refused with it, a caller resubmitting that
      // range made duplicates.
      if (this.settling !== null) await this.settling;
      const refusal = this.refusal();
      if (refusal) throw refusal;
      if (this.lag.held < this.options.maxLagBytes) {
        this.lag.admit(bytes);
        return;
      }
      if (this.options.lagPolicy === 'error') {
        throw new WalError(
          WalErrorCode.BACKPRESSURE,
          `${this.lag.held} bytes are not replicated yet, counting appends in progress (maxLagBytes ${this.options.maxLagBytes}; replicated up to LSN ${this.replicatedLsn}); retry once the cluster catches up, or use lagPolicy 'block'`,
        );
      }
      await this.lag.room();
    }
  }

  private appended(lsn: bigint, bytes: number): Promise<bigint> {
    this.lag.appended(lsn, bytes, this.shipper.replicatedLsn);
    // Replicated before it was durable here, it now counts for nothing.
    this.madeRoom();
    this.fencing.extend(lsn);
    if (this.fencing.final) return Promise.reject(this.fencing.error(lsn));
    if (this.divergence !== null) return Promise.reject(this.divergence);
    if (this.options.mode === 'async') return Promise.resolve(lsn);
    const timeoutMs = this.options.replicationTimeoutMs;
    return this.acks.waitFor(
      lsn,
      timeoutMs,
      (at) =>
        new WalError(
          WalErrorCode.NOT_REPLICATED,
          `LSN ${lsn} is durable in the local log, but the cluster did not acknowledge it within ${timeoutMs} ms (replicated up to LSN ${at}${this.shipper.counters.lastError ? `; last error: ${this.shipper.counters.lastError}` : ''}). It stays in the local log and is shipped when the cluster answers — unless another node is promoted first, which reports it as unreplicated. Do not count it as replicated.`,
          { details: { lsn, replicatedLsn: at, locallyDurable: true } },
        ),
    );
  }

  private replicated(lsn: bigint): void {
    this.acks.replicated(lsn);
    this.lag.replicated(lsn);
    this.uploader?.replicated(lsn);
    this.madeRoom();
  }

  /** Wakes the appends waiting at `maxLagBytes` if the bytes held went below it. */
  private madeRoom(): void {
    if (this.lag.held < this.options.maxLagBytes) this.lag.wake();
  }

  /**
   * The stream disagrees with what this primary sent (a replica kept another content under
   * this epoch): nothing more is reported replicated, and waiting appends are refused.
   */
  private diverge(reason: string): void {
    this.divergence = new WalError(
      WalErrorCode.DIVERGED,
      `the stream '${this.stream}' disagrees with this primary's log (${reason}); records after LSN ${this.shipper.replicatedLsn} are durable only in the local log and are not counted as replicated. Close this primary, check the cluster's replicas, and reopen it`,
      { details: { replicatedLsn: this.shipper.replicatedLsn, lastLsn: this.wal.lastLsn } },
    );
    this.acks.rejectAll(this.divergence);
    this.lag.wake();
  }

  /** Records of the local log from `from` to `to`, about `maxBytes` of them at most. */
  private async readLog(from: bigint, to: bigint, maxBytes: number): Promise<LoggedRecord[]> {
    const out: LoggedRecord[] = [];
    let bytes = 0;
    for await (const r of this.wal.iterator(from)) {
      if (r.lsn > to) break;
      out.push({ lsn: r.lsn, record: copyRecord(recordInput(r)) });
      bytes += r.payload.length + (r.meta?.length ?? 0) + 32;
      if (bytes >= maxBytes) break;
    }
    return out;
  }

  private fence(byEpoch: number, reason: string): void {
    if (!this.fencing.fence(byEpoch, reason, this.shipper.replicatedLsn, this.wal.lastLsn)) return;
    this.lag.wake();
    this.settling = this.settleFence();
  }

  /**
   * After a takeover: lets the publishes in flight end, then reads what the stream's
   * history really holds of this primary's — the appends it holds are acknowledged, the
   * rest refused with the true unreplicated tail (a lease watch can fence before a stored
   * publish's acknowledgement is processed; reporting those as unreplicated invited
   * duplicates).
   */
  private async settleFence(): Promise<void> {
    try {
      await this.shipper.stop();
      const inHistory = await historyEnd(
        this.link,
        this.wal,
        this.held,
        this.shipper.streamSeq,
        this.shipper.replicatedLsn,
        this.options.maxInFlight,
      );
      this.fencing.settle(inHistory, this.wal.lastLsn);
      this.acks.replicated(inHistory);
    } catch {
      this.fencing.settleUnread();
    }
    this.acks.rejectAll(null);
  }
}
