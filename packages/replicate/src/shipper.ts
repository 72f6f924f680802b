import type { PubAck } from '@nats-io/jetstream';
import type { Wal, WalRecord } from '@walnut/wal';
import { Backoff, pause } from './backoff.js';
import { type ClusterLink, describe, isWrongLastSequence } from './link.js';
import { encodeRecordsMessage, MESSAGE_OVERHEAD, MessageKind, recordCost } from './message.js';

interface InFlight {
  readonly firstLsn: bigint;
  readonly lastLsn: bigint;
  /** The sequence the stream gives this message if every earlier one was stored. */
  readonly seq: number;
  readonly sentAt: number;
  acked: boolean;
}

export interface ShipperEvents {
  /** Everything up to `lsn` is in the stream (acknowledged, or found there after a failure). */
  onReplicated(lsn: bigint): void;
  /** The stream holds a message of a later epoch: another primary took over. */
  onFenced(epoch: number, reason: string): void;
  /** Publishing failed and the shipper is reconciling (the reason, for stats and errors). */
  onStall(reason: string): void;
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
  publishLatencyMs: { last: number };
}

/**
 * Follows the local log's durable records and publishes them, one message per group,
 * each stored only after the one before it (expected last sequence), many in flight.
 * On any failure it stops, waits for what is in flight, reads the stream's last message
 * and resumes right after it — never resending blindly — with backoff between attempts.
 */
export class Shipper {
  replicatedLsn: bigint;
  /** The stream sequence of the last message known stored. */
  streamSeq: number;
  private nextSeq: number;
  private readonly inflight: InFlight[] = [];
  private readonly pending = new Set<Promise<void>>();
  private readonly backoff = new Backoff();
  private failure: unknown = null;
  private capacityWaiters: (() => void)[] = [];
  private readonly stopper = new AbortController();
  private tailAbort: AbortController | null = null;
  private running: Promise<void> | null = null;
  private fenced = false;
  readonly counters: ShipperStats = {
    messages: 0,
    records: 0,
    bytes: 0,
    inFlight: 0,
    failedPublishes: 0,
    reconciles: 0,
    stalled: false,
    lastError: null,
    publishLatencyMs: { last: 0 },
  };

  constructor(
    private readonly wal: Wal,
    private readonly link: ClusterLink,
    private readonly epoch: number,
    private readonly maxInFlight: number,
    private readonly maxMessageBytes: number,
    start: { replicatedLsn: bigint; streamSeq: number },
    private readonly events: ShipperEvents,
  ) {
    this.replicatedLsn = start.replicatedLsn;
    this.streamSeq = start.streamSeq;
    this.nextSeq = start.streamSeq + 1;
  }

  start(): void {
    this.running ??= this.run();
  }

  /** Stops publishing and waits for the publishes in flight to settle. */
  async stop(): Promise<void> {
    this.stopper.abort();
    this.tailAbort?.abort();
    this.wakeCapacity();
    await this.running;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private get stopped(): boolean {
    return this.stopper.signal.aborted || this.fenced;
  }

  private async run(): Promise<void> {
    const backoff = this.backoff;
    while (!this.stopped) {
      try {
        await this.shipFrom(this.replicatedLsn + 1n);
        if (this.failure === null) return; // the log closed or the shipper was stopped
      } catch (error) {
        this.failure ??= error;
      }
      await this.settleInFlight();
      if (this.stopped) return;
      const reason = describe(this.failure);
      this.counters.stalled = true;
      this.counters.lastError = reason;
      this.events.onStall(reason);
      if (!isWrongLastSequence(this.failure)) await pause(backoff.next(), this.stopper.signal);
      await this.reconcile(backoff);
      this.failure = null;
    }
  }

  /** Publishes every durable record from `from` on, until a failure or a stop. */
  private async shipFrom(from: bigint): Promise<void> {
    const tailAbort = new AbortController();
    this.tailAbort = tailAbort;
    const limit = this.maxMessageBytes;
    let group: WalRecord[] = [];
    let cost = MESSAGE_OVERHEAD;
    for await (const record of this.wal.tail(from, { signal: tailAbort.signal })) {
      const size = recordCost(record);
      if (group.length > 0 && cost + size > limit) {
        await this.send(group);
        group = [];
        cost = MESSAGE_OVERHEAD;
      }
      group.push(record);
      cost += size;
      // Caught up with what is durable: this group is complete.
      if (record.lsn >= this.wal.durableLsn) {
        await this.send(group);
        group = [];
        cost = MESSAGE_OVERHEAD;
      }
      if (this.failure !== null || this.stopped) return;
    }
  }

  private async send(group: WalRecord[]): Promise<void> {
    while (this.inflight.length >= this.maxInFlight && this.failure === null && !this.stopped) {
      await new Promise<void>((resolve) => this.capacityWaiters.push(resolve));
    }
    if (this.failure !== null || this.stopped) return;
    const firstLsn = group[0]!.lsn;
    const body = encodeRecordsMessage(this.epoch, firstLsn, group);
    const entry: InFlight = {
      firstLsn,
      lastLsn: group[group.length - 1]!.lsn,
      seq: this.nextSeq++,
      sentAt: performance.now(),
      acked: false,
    };
    this.inflight.push(entry);
    this.counters.inFlight = this.inflight.length;
    this.counters.messages++;
    this.counters.records += group.length;
    this.counters.bytes += body.length;
    // The id names the log's epoch and first LSN: a resend of this very message is a
    // duplicate the stream drops, and no other primary's message can be mistaken for it.
    const publish = this.link
      .publish(body, `${this.link.names.stream}:${this.epoch}:${firstLsn}`, entry.seq - 1)
      .then(
        (ack) => this.acked(entry, ack),
        (error) => this.failed(error),
      );
    this.pending.add(publish);
    publish.finally(() => this.pending.delete(publish));
  }

  private acked(entry: InFlight, ack: PubAck): void {
    if (ack.duplicate || ack.seq !== entry.seq) {
      this.failed(
        new Error(
          `the stream stored LSNs ${entry.firstLsn}–${entry.lastLsn} at sequence ${ack.seq}${ack.duplicate ? ' (as a duplicate)' : ''}, not ${entry.seq}`,
        ),
      );
      return;
    }
    entry.acked = true;
    this.counters.publishLatencyMs.last = performance.now() - entry.sentAt;
    let advanced = false;
    while (this.inflight.length > 0 && this.inflight[0]!.acked) {
      const done = this.inflight.shift()!;
      this.replicatedLsn = done.lastLsn;
      this.streamSeq = done.seq;
      advanced = true;
    }
    this.counters.inFlight = this.inflight.length;
    if (advanced) {
      this.counters.stalled = false;
      this.backoff.reset();
      this.events.onReplicated(this.replicatedLsn);
    }
    this.wakeCapacity();
  }

  private failed(error: unknown): void {
    this.counters.failedPublishes++;
    this.failure ??= error;
    this.tailAbort?.abort();
    this.wakeCapacity();
  }

  /** Waits until no publish is in flight (each ends: acknowledged, refused or timed out). */
  private async settleInFlight(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    this.inflight.length = 0;
    this.counters.inFlight = 0;
  }

  private wakeCapacity(): void {
    const waiters = this.capacityWaiters;
    this.capacityWaiters = [];
    for (const wake of waiters) wake();
  }

  /**
   * Reads the stream's last message until the cluster answers (with backoff), then sets
   * the position: everything up to that message's last LSN is in the stream, and the next
   * publish expects that message's sequence. A later epoch there means this primary is fenced.
   */
  private async reconcile(backoff: Backoff): Promise<void> {
    this.counters.reconciles++;
    while (!this.stopped) {
      try {
        const position = await this.link.lastPosition();
        const header = position.header;
        if (header !== null && header.epoch > this.epoch) {
          this.fenced = true;
          this.events.onFenced(
            header.epoch,
            `the stream holds a message of epoch ${header.epoch} at sequence ${position.seq}`,
          );
          return;
        }
        if (header === null || header.epoch < this.epoch) {
          throw new Error(
            `the stream lost this primary's epoch marker (its last message is ${header === null ? 'none' : `of epoch ${header.epoch}`}); was it purged or recreated?`,
          );
        }
        const inStream = header.kind === MessageKind.EPOCH ? header.firstLsn - 1n : header.lastLsn;
        if (inStream > this.replicatedLsn) {
          this.replicatedLsn = inStream;
          this.events.onReplicated(inStream);
        }
        this.streamSeq = position.seq;
        this.nextSeq = position.seq + 1;
        return;
      } catch (error) {
        this.counters.lastError = describe(error);
        this.events.onStall(this.counters.lastError);
        await pause(backoff.next(), this.stopper.signal);
      }
    }
  }
}
