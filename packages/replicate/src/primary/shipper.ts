import type { PubAck } from '@nats-io/jetstream';
import type { WalRecordInput } from '@walnut/codec';
import { Backoff, pause } from '../cluster/backoff.js';
import {
  type ClusterLink,
  describe,
  isRefusedExpectation,
  isWrongLastMsgId,
  lastLsnInStream,
} from '../cluster/link.js';
import type { Mark } from '../cluster/mark.js';
import {
  encodeRecordsMessage,
  MESSAGE_OVERHEAD,
  MessageKind,
  messageCrc,
  messageId,
  prevOf,
  RESEED_FLAG,
  recordCost,
} from '../cluster/message.js';
import { ShortCopies } from '../cluster/short-copies.js';
import { forkBelowEnd } from '../cluster/stream-fork.js';
import { beginRun, type EpochRun, extendRun, extendRunTo } from '../local/running-checksum.js';
import { ChainTip } from './chain-tip.js';
import { endMoved, IDLE_LOOK_MS, type OwnEnd } from './idle-look.js';
import { RecordQueue } from './record-queue.js';
import { disagreementAt, type Sent, type Stored } from './sent-messages.js';
import type { Reseed, ShipperEvents, ShipperLimits, ShipperStats } from './shipper-seam.js';

/** Coalescing, how long a message that is not full waits for more (what it adds to the lag). */
export const LINGER_MS = 5;

const BACKFILL_PAGE_BYTES = 8 * 1024 * 1024;
/** Reads of a stream that went back or disagrees, this far apart, before acting on it. */
const CONFIRM_LOOKS = 2;
const CONFIRM_MS = 2_000;

/**
 * Publishes the primary's durable records, one message per group that became durable
 * together (split under the server's max payload) — or, coalescing, of what accumulated
 * over LINGER_MS and while a publish was in flight — each stored only right after the one
 * before it (expected last sequence), many in flight. The primary hands it each record as
 * its append becomes durable (`push`), so nothing is read back from disk. On any failure it
 * stops, waits for what is in flight, reads the stream's last message and resumes right
 * after it — never resending blindly — with backoff between attempts. Records stay queued
 * until the stream holds them.
 */
export class Shipper {
  replicatedLsn: bigint;
  /** The stream sequence of the last message known stored. */
  streamSeq: number;
  private nextSeq: number;
  /** The message the next new one follows: its id and CRC. */
  private readonly tip: ChainTip;
  /** Records not yet known to be in the stream. */
  private readonly queue = new RecordQueue();
  private readonly inflight: Sent[] = [];
  private stored: Stored | null = null;
  /** The running checksum of this epoch's messages up to `stored` (null: lost track). */
  private run: EpochRun | null;
  /** LSNs a re-seeded stream lost that are still to be read back from the log. */
  private backfill: { next: bigint; to: bigint } | null = null;
  private filling: Promise<void> | null = null;
  private readonly pending = new Set<Promise<void>>();
  private readonly backoff = new Backoff();
  private readonly shortLeaders = new ShortCopies();
  private failure: unknown = null;
  private recovering: Promise<void> | null = null;
  private pumpScheduled = false;
  /** The smallest cost of a record walked so far: how many queued ones might fill a message. */
  private smallestCost = Number.POSITIVE_INFINITY;
  /** Coalescing: the records held waited LINGER_MS (they go once nothing is in flight). */
  private lingered = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  private readonly idleLooks: NodeJS.Timeout;
  private looking = false;
  private stopped = false;
  private readonly stopper = new AbortController();
  readonly counters: ShipperStats = {
    messages: 0,
    records: 0,
    bytes: 0,
    inFlight: 0,
    failedPublishes: 0,
    reconciles: 0,
    stalled: false,
    lastError: null,
    lastPublishMs: 0,
    resent: 0,
    diverged: null,
    regressed: null,
    reseeds: 0,
    staleReads: 0,
    stepDowns: 0,
  };

  constructor(
    private readonly link: ClusterLink,
    private epoch: number,
    private readonly limits: ShipperLimits,
    start: {
      replicatedLsn: bigint;
      streamSeq: number;
      lastId: string | null;
      lastCrc: number | null;
    },
    private readonly events: ShipperEvents,
  ) {
    this.replicatedLsn = start.replicatedLsn;
    this.streamSeq = start.streamSeq;
    this.nextSeq = start.streamSeq + 1;
    this.tip = new ChainTip(start.lastId, start.lastCrc);
    this.run = beginRun(epoch, start.streamSeq);
    this.idleLooks = setInterval(this.lookWhileIdle, IDLE_LOOK_MS);
    this.idleLooks.unref();
  }

  /**
   * A durable record to ship. Records come in LSN order (the Wal resolves appends in
   * order); the pushes of one turn of the event loop become one message.
   */
  push(lsn: bigint, record: WalRecordInput): void {
    if (this.stopped || lsn <= this.replicatedLsn) return;
    this.queue.push(lsn, record, this.replicatedLsn);
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(this.pumpTick);
    }
  }

  /** The last message known stored, as the primary's high-water mark (null: none yet in this epoch). */
  mark(): Mark | null {
    const stored = this.stored;
    if (stored === null) return null;
    const run = this.run?.seq === stored.seq ? this.run : null;
    return {
      epoch: this.epoch,
      lsn: stored.lastLsn,
      seq: stored.seq,
      crc: stored.crc,
      ...(run === null ? {} : { run: { from: run.from, value: run.value } }),
    };
  }

  /** Stops publishing and waits for the publishes in flight to settle. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.stopper.abort();
    if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
    clearInterval(this.idleLooks);
    await this.recovering;
    await this.filling;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }

  private readonly pumpTick = (): void => {
    this.pumpScheduled = false;
    this.pump();
  };

  /**
   * With nothing to send and nothing in flight, reads the stream's end; when it is not the
   * last message this shipper stored, or was stored over a fork of the copies, the
   * reconcile of a failed publish decides (it confirms before it re-seeds, and finds a newer
   * epoch's fencing). A publish sent meanwhile makes the look count for nothing: its own
   * acknowledgement or refusal tells more.
   */
  private readonly lookWhileIdle = (): void => {
    if (this.looking || !this.idle()) return;
    this.looking = true;
    const sentBefore = this.counters.messages;
    endMoved(this.link, () => this.ownEnd()).then(
      (moved) => {
        this.looking = false;
        if (!moved || !this.idle() || this.counters.messages !== sentBefore) return;
        this.recovering = this.recheck();
      },
      // An outage is for the next publish or look to meet.
      () => {
        this.looking = false;
      },
    );
  };

  /** The end this shipper last saw stored, as an idle look expects to find it. */
  private ownEnd(): OwnEnd {
    const { epoch, streamSeq, replicatedLsn } = this;
    return { epoch, streamSeq, replicatedLsn, crc: this.stored?.crc ?? null };
  }

  private idle(): boolean {
    return (
      !this.stopped &&
      this.failure === null &&
      this.recovering === null &&
      this.backfill === null &&
      this.inflight.length === 0 &&
      this.queue.allSent
    );
  }

  /** An idle look found the stream's end moved: settles where it is, then sends on. */
  private async recheck(): Promise<void> {
    await this.reconcile([], false);
    if (this.stopped) return;
    this.dropReplicated();
    this.queue.rewind();
    this.recovering = null;
    this.pump();
  }

  /**
   * Sends every queued record it may: contiguous after what was sent, while there is room.
   * Coalescing, only full messages go until the held records waited LINGER_MS and nothing
   * is in flight.
   */
  private pump(): void {
    const limit = this.limits.maxMessageBytes;
    const queue = this.queue;
    while (
      this.failure === null &&
      this.recovering === null &&
      !this.stopped &&
      this.inflight.length < this.limits.maxInFlight &&
      !queue.allSent
    ) {
      // Coalescing, a message that is not full goes once nothing is in flight and it waited.
      const holding = this.limits.coalesce && (this.inflight.length > 0 || !this.lingered);
      // Too few records to fill a message: not worth walking them again on every turn.
      const unsent = queue.end - queue.sendIndex;
      if (holding && MESSAGE_OVERHEAD + (unsent + 1) * this.smallestCost <= limit) {
        this.linger();
        break;
      }
      const first = queue.sendIndex;
      let expected = queue.expectedAt(first, this.replicatedLsn);
      if (queue.lsnAt(first) !== expected) break; // a hole: wait for the missing record
      let end = first;
      let cost = MESSAGE_OVERHEAD;
      let full = false;
      while (end < queue.end && queue.lsnAt(end) === expected) {
        const size = recordCost(queue.recordAt(end));
        if (size < this.smallestCost) this.smallestCost = size;
        if (end > first && cost + size > limit) {
          full = true;
          break;
        }
        cost += size;
        end++;
        expected++;
      }
      // No room left for another record as small as any seen: as full as it gets.
      if (cost + this.smallestCost > limit) full = true;
      if (holding && !full) {
        this.linger();
        break;
      }
      // Everything queued went: what comes next waits anew.
      if (!full) this.lingered = false;
      queue.sendIndex = end;
      this.send(first, end);
    }
    this.startFill();
  }

  /** Coalescing: lets the held records go in LINGER_MS, if they have not waited already. */
  private linger(): void {
    if (this.lingerTimer !== null || this.lingered) return;
    this.lingerTimer = setTimeout(() => {
      this.lingerTimer = null;
      this.lingered = true;
      this.pump();
    }, LINGER_MS);
  }

  /** After a re-seed: reads the lost records back once the publishing reached their place. */
  private startFill(): void {
    const backfill = this.backfill;
    if (backfill === null || this.filling !== null || this.recovering !== null || this.stopped) {
      return;
    }
    const queue = this.queue;
    const at = queue.sendIndex;
    const expected = queue.expectedAt(at, this.replicatedLsn);
    if (expected === backfill.next && (queue.allSent || queue.lsnAt(at) !== expected)) {
      this.filling = this.fill();
    }
  }

  private send(from: number, to: number): void {
    const firstLsn = this.queue.lsnAt(from);
    const lastLsn = this.queue.lsnAt(to - 1);
    const group = this.queue.slice(from, to);
    const { compression } = this.limits;
    const body = encodeRecordsMessage(this.epoch, firstLsn, group, compression, this.tip.prev);
    const prevId = this.tip.lastId;
    const entry: Sent = {
      firstLsn,
      lastLsn,
      seq: this.nextSeq++,
      body,
      // The id names this content (epoch, range, CRC): a resend of this very message is a
      // duplicate the stream drops, and a regrouped one can never be taken for it.
      id: messageId(this.link.names.stream, this.epoch, firstLsn, lastLsn, body),
      prevId,
      crc: messageCrc(body),
      sentAt: 0,
      acked: false,
    };
    this.counters.messages++;
    this.counters.records += group.length;
    this.counters.bytes += body.length;
    this.tip.follow(entry.id, entry.crc);
    this.transmit(entry);
  }

  /** Publishes `entry` (again, after a failure: the same bytes, id and expected sequence). */
  private transmit(entry: Sent): void {
    entry.sentAt = performance.now();
    entry.acked = false;
    this.inflight.push(entry);
    this.counters.inFlight = this.inflight.length;
    // Chained on what the stream's last message is, not only on its sequence: a message
    // another primary stored there (a newer epoch's marker) has the sequence expected but
    // never the id, so nothing of this epoch is stored after it (decision 0909).
    const expected = { seq: entry.seq - 1, id: this.tip.expectedId(entry.seq, entry.prevId) };
    const publish = this.link.publish(entry.body, entry.id, expected).then(
      (ack) => this.acked(entry, ack),
      (error) => this.failed(error),
    );
    this.pending.add(publish);
    publish.finally(() => this.pending.delete(publish));
  }

  private acked(entry: Sent, ack: PubAck): void {
    // A duplicate at the expected sequence is this very content stored by an earlier send.
    if (ack.seq !== entry.seq) {
      this.failed(
        new Error(
          `the stream stored LSNs ${entry.firstLsn}–${entry.lastLsn} at sequence ${ack.seq}${ack.duplicate ? ' (as a duplicate)' : ''}, not ${entry.seq}`,
        ),
      );
      return;
    }
    entry.acked = true;
    this.counters.lastPublishMs = performance.now() - entry.sentAt;
    if (this.recovering !== null) return; // the reconcile that follows sets the position
    let advanced = false;
    while (this.inflight.length > 0 && this.inflight[0]!.acked) {
      const done = this.inflight.shift()!;
      this.replicatedLsn = done.lastLsn;
      this.streamSeq = done.seq;
      this.stored = done;
      this.run = extendRun(this.run, done.seq, done.crc);
      advanced = true;
    }
    this.counters.inFlight = this.inflight.length;
    if (advanced) {
      this.counters.stalled = false;
      this.backoff.reset();
      this.dropReplicated();
      this.events.onReplicated(this.replicatedLsn);
    }
    this.pump();
  }

  private failed(error: unknown): void {
    this.counters.failedPublishes++;
    if (this.failure !== null || this.stopped) return;
    this.failure = error;
    this.recovering = this.recover();
  }

  /**
   * After a failure: lets everything in flight end, finds where the stream is, and sends
   * the messages it does not hold again byte for byte (same id, same expected sequence),
   * before anything new.
   */
  private async recover(): Promise<void> {
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
    const sent = this.inflight.splice(0);
    this.counters.inFlight = 0;
    if (this.stopped) return;
    const reason = describe(this.failure);
    this.counters.stalled = true;
    this.counters.lastError = reason;
    // A refused expected sequence is an answer, not an outage: look at once.
    const refusedId = isWrongLastMsgId(this.failure);
    if (!isRefusedExpectation(this.failure)) await pause(this.backoff.next(), this.stopper.signal);
    const resend = await this.reconcile(sent, refusedId);
    if (this.stopped) return;
    this.dropReplicated();
    this.queue.rewind();
    this.failure = null;
    this.recovering = null;
    if (resend.length > 0) {
      this.queue.sentThrough(resend[resend.length - 1]!.lastLsn);
      this.counters.resent += resend.length;
      for (const entry of resend) this.transmit(entry);
      this.nextSeq = resend[resend.length - 1]!.seq + 1;
      this.tip.follow(resend[resend.length - 1]!.id, resend[resend.length - 1]!.crc);
    }
    this.pump();
  }

  /** Forgets queued records the stream now holds. */
  private dropReplicated(): void {
    this.queue.dropThrough(this.replicatedLsn);
  }

  /**
   * Reads the stream's last message until the cluster answers (with backoff), then sets
   * the position: everything up to that message's last LSN is in the stream, and the next
   * publish expects that message's sequence. Returns the messages of `sent` the stream does
   * not hold, to be sent again as they were. A later epoch there means this primary is
   * fenced; a message of this epoch that is not what was sent there means the stream
   * diverged from the log.
   */
  private async reconcile(sent: readonly Sent[], refusedId: boolean): Promise<Sent[]> {
    this.counters.reconciles++;
    let looks = 0;
    while (!this.stopped) {
      try {
        const position = await this.link.lastPosition();
        const header = position.header;
        if (header !== null && header.epoch > this.epoch) {
          const own =
            header.kind === MessageKind.EPOCH && (header.flags & RESEED_FLAG) !== 0
              ? this.events.ownReseed(header.epoch, header.firstLsn - 1n, position.seq)
              : null;
          if (own !== null) {
            this.resumeAfterReseed(own, this.keptFrom());
            return [];
          }
          this.stopped = true;
          this.events.onFenced(
            header.epoch,
            `the stream holds a message of epoch ${header.epoch} at sequence ${position.seq}`,
          );
          return [];
        }
        const inStream = lastLsnInStream(position);
        const wentBack =
          header === null || header.epoch < this.epoch || inStream < this.replicatedLsn;
        const disagreement = wentBack
          ? null
          : (disagreementAt(position.seq, header, position.crc, sent, this.stored) ??
            (await forkBelowEnd(this.link, position)));
        if ((wentBack || disagreement !== null) && looks < CONFIRM_LOOKS) {
          // A deposed leader still answering (cut off from its peers, it has not stepped
          // down yet) shows an older stream: ask again before acting on it.
          looks++;
          this.counters.lastError = `the stream looks ${wentBack ? `to have gone back to LSN ${inStream} (sequence ${position.seq})` : 'to disagree with what was sent'}; asking again`;
          await pause(CONFIRM_MS, this.stopper.signal);
          continue;
        }
        // Ending before a sequence already seen stored, the copy serving it fell behind (or
        // the cluster lost it): another copy may hold it whole. The next leader's answer is
        // confirmed by one more look, CONFIRM_MS later.
        if (
          wentBack &&
          (position.lastSeq ?? position.seq) < this.streamSeq &&
          (await this.handOver())
        ) {
          looks = CONFIRM_LOOKS - 1;
          continue;
        }
        if (wentBack) {
          await this.reseed(
            `the stream went back: it ends at LSN ${inStream} (sequence ${position.seq}${header === null ? ', empty or gone' : `, epoch ${header.epoch}`}), but held up to LSN ${this.replicatedLsn} (sequence ${this.streamSeq}, epoch ${this.epoch})`,
            inStream,
          );
          return [];
        }
        if (disagreement !== null) {
          this.stopped = true;
          this.counters.diverged = disagreement;
          this.counters.lastError = disagreement;
          this.events.onDiverged(disagreement);
          return [];
        }
        this.shortLeaders.reset();
        const lastSeq = position.lastSeq ?? position.seq;
        this.streamSeq = lastSeq;
        this.nextSeq = lastSeq + 1;
        this.tip.follow(position.id, prevOf(position) || null);
        // Refused by id, yet the stream ends with this epoch's message the chain expected.
        if (refusedId && position.id !== null) this.tip.forgot(position.seq);
        const held = sent.find((entry) => entry.seq === position.seq);
        if (held !== undefined) this.stored = held;
        this.run = extendRunTo(this.run, sent, position.seq);
        if (inStream > this.replicatedLsn) {
          this.replicatedLsn = inStream;
          this.events.onReplicated(inStream);
        }
        // Sent after the last sequence; those between it and the held message are gone, and
        // go again as new messages (their records are still queued: not replicated).
        return sent.filter((entry) => entry.seq > lastSeq).sort((a, b) => a.seq - b.seq);
      } catch (error) {
        this.counters.lastError = describe(error);
        if (isRefusedExpectation(error)) {
          // The re-seeding marker was refused: the stream's last sequence is not the one
          // just read, so that read was stale, not a stream gone back. Read again, and
          // confirm anew before acting on what the next reads show.
          this.counters.staleReads++;
          this.counters.lastError = `a re-seed was refused (${describe(error)}): the stream was read from a stale copy; reading again`;
          looks = 0;
        }
        await pause(this.backoff.next(), this.stopper.signal);
      }
    }
    return [];
  }

  /**
   * The stream as served is short: unless every server holding a copy has served it short,
   * has its leader step down and returns true, to look again (decision 0915).
   */
  private async handOver(): Promise<boolean> {
    const leadership = await this.link.leadership();
    if (leadership === null || !this.shortLeaders.tryAnother(leadership)) return false;
    this.counters.stepDowns++;
    this.counters.lastError = `the stream as its leader ${leadership.leader} serves it is short; asking another server to lead it before re-seeding`;
    await this.link.stepDown(leadership.leader);
    return true;
  }

  /** The last LSN of the records the shipper no longer keeps (what a re-seed reads back up to). */
  private keptFrom(): bigint {
    return this.queue.keptFrom(this.replicatedLsn);
  }

  /**
   * The stream went back to `inStream`: says so at once (`replicatedLsn` drops to what it
   * holds, `counters.regressed`), then has the primary re-seed it and queues the log's
   * records the stream lost ahead of the ones still kept. Throws when the re-seed fails.
   */
  private async reseed(reason: string, inStream: bigint): Promise<void> {
    const upTo = this.keptFrom();
    const before = { replicatedLsn: this.replicatedLsn, stored: this.stored };
    if (inStream < this.replicatedLsn) this.replicatedLsn = inStream;
    this.counters.regressed = reason;
    this.counters.lastError = reason;
    this.stored = null;
    let reseed: Reseed | null;
    try {
      reseed = await this.events.onRegressed(reason);
    } catch (error) {
      // Not re-seeded: the next look at the stream decides again from where things were.
      this.replicatedLsn = before.replicatedLsn;
      this.stored = before.stored;
      throw error;
    }
    if (reseed === null) {
      this.stopped = true;
      return;
    }
    this.resumeAfterReseed(reseed, upTo);
  }

  /** Ships on under the re-seed's epoch after its marker; the LSNs up to `upTo` are read back. */
  private resumeAfterReseed(reseed: Reseed, upTo: bigint): void {
    this.stored = null;
    this.run = beginRun(reseed.epoch, reseed.markerSeq);
    this.epoch = reseed.epoch;
    this.replicatedLsn = reseed.inStream;
    this.streamSeq = reseed.markerSeq;
    this.nextSeq = reseed.markerSeq + 1;
    this.tip.follow(reseed.markerId, reseed.markerCrc);
    // The records the stream lost and this shipper no longer keeps are read back from the
    // log a page at a time, as the publishing reaches them (memory stays bounded).
    this.backfill = reseed.inStream < upTo ? { next: reseed.inStream + 1n, to: upTo } : null;
    // Queued records the re-seeded stream already holds (it kept more than was read back).
    this.dropReplicated();
    this.shortLeaders.reset();
    this.counters.reseeds++;
  }

  /** Reads the next page of lost records back from the log and queues it where the hole is. */
  private async fill(): Promise<void> {
    const backfill = this.backfill!;
    try {
      const page = await this.events.readLog(backfill.next, backfill.to, BACKFILL_PAGE_BYTES);
      if (this.stopped) return;
      this.queue.insert(page);
      const last = page.length > 0 ? page[page.length - 1]!.lsn : backfill.to;
      this.backfill = last >= backfill.to ? null : { next: last + 1n, to: backfill.to };
    } catch (error) {
      this.counters.lastError = `reading the log back to re-seed the stream: ${describe(error)}`;
      await pause(this.backoff.next(), this.stopper.signal);
    } finally {
      this.filling = null;
      this.pump();
    }
  }
}
