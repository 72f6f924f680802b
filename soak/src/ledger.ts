import { crc32c } from '@walnut/codec';
import { readPayload } from './payload.js';

/** At most this many findings are kept per check: one broken log would otherwise flood the output. */
const MAX_FINDINGS = 20;

/** The result of checking a recovered log against the ledger. */
export interface CheckResult {
  records: number;
  /** Acknowledged records found with the right bytes. */
  acknowledgedChecked: number;
  /** Records found that were never acknowledged to the parent (legal: written, not yet reported). */
  unacknowledged: number;
  lastLsn: bigint;
  /** Broken invariants, each a sentence naming the LSN; empty when the log is right. */
  violations: string[];
}

/**
 * What a log must hold after a crash: every acknowledged record (LSN → digest of its
 * payload), and every record an earlier recovery of the same log already found (recovery
 * never takes back what it once returned). A check walks the recovered log once, in LSN
 * order, and also asks of every record, acknowledged or not, that some producer wrote it,
 * once, and that each producer's records form a prefix of what it appended: a producer
 * appends its next record only after the previous one was acknowledged, so a later record
 * on disk proves an earlier one was durable.
 */
export class Ledger {
  /** Digest of each acknowledged payload, by LSN. */
  readonly #acked: number[] = [];
  /** Digest of each record the last check found, by LSN. */
  #known: number[] = [];
  #ackCount = 0;

  get acknowledged(): number {
    return this.#ackCount;
  }

  ack(lsn: bigint | number, digest: number): void {
    const i = Number(lsn);
    if (this.#acked[i] === undefined) this.#ackCount++;
    this.#acked[i] = digest;
  }

  startCheck(): LogCheck {
    return new LogCheck(this.#acked, this.#known, (known) => {
      this.#known = known;
    });
  }
}

export class LogCheck {
  readonly #acked: readonly number[];
  readonly #known: readonly number[];
  readonly #done: (known: number[]) => void;
  readonly #seen: number[] = [];
  readonly #producers = new Map<string, Set<number>>();
  readonly #violations: string[] = [];
  #next = 1n;
  #records = 0;
  #ackedChecked = 0;
  #unacked = 0;
  #extraViolations = 0;

  constructor(acked: readonly number[], known: readonly number[], done: (known: number[]) => void) {
    this.#acked = acked;
    this.#known = known;
    this.#done = done;
  }

  #violate(message: string): void {
    if (this.#violations.length < MAX_FINDINGS) this.#violations.push(message);
    else this.#extraViolations++;
  }

  record(lsn: bigint, payload: Uint8Array): void {
    this.#records++;
    if (lsn !== this.#next)
      this.#violate(`LSN ${lsn} follows LSN ${this.#next - 1n} (a gap or a repeat)`);
    if (lsn >= this.#next) this.#next = lsn + 1n;
    const i = Number(lsn);
    const digest = crc32c(payload);
    this.#seen[i] = digest;
    const acked = this.#acked[i];
    if (acked !== undefined) {
      if (acked === digest) this.#ackedChecked++;
      else this.#violate(`acknowledged LSN ${lsn} holds other bytes than were acknowledged`);
    } else {
      this.#unacked++;
    }
    const known = this.#known[i];
    if (known !== undefined && known !== digest) {
      this.#violate(`LSN ${lsn} holds other bytes than an earlier recovery found there`);
    }
    const key = readPayload(payload);
    if (key === null) {
      this.#violate(`LSN ${lsn} holds ${payload.length} bytes no producer wrote (invented)`);
      return;
    }
    const producer = `${key.epoch}:${key.producer}`;
    let seqs = this.#producers.get(producer);
    if (seqs === undefined) {
      seqs = new Set();
      this.#producers.set(producer, seqs);
    }
    if (seqs.has(key.seq)) {
      this.#violate(
        `LSN ${lsn} repeats record #${key.seq} of producer ${key.producer} in epoch ${key.epoch} (a duplicate)`,
      );
    }
    seqs.add(key.seq);
  }

  finish(): CheckResult {
    const last = this.#next - 1n;
    let missingAcked = 0;
    let firstMissing: number | undefined;
    for (let i = Number(last) + 1; i < this.#acked.length; i++) {
      if (this.#acked[i] === undefined) continue;
      missingAcked++;
      firstMissing ??= i;
    }
    if (missingAcked > 0) {
      this.#violate(
        `${missingAcked} acknowledged record(s) missing from LSN ${firstMissing} on (the log ends at LSN ${last})`,
      );
    }
    let vanished = 0;
    for (let i = Number(last) + 1; i < this.#known.length; i++) {
      if (this.#known[i] !== undefined) vanished++;
    }
    if (vanished > 0) {
      this.#violate(`${vanished} record(s) an earlier recovery found after LSN ${last} are gone`);
    }
    for (const [producer, seqs] of this.#producers) {
      let max = -1;
      for (const s of seqs) if (s > max) max = s;
      if (seqs.size !== max + 1) {
        const [epoch, id] = producer.split(':');
        this.#violate(
          `producer ${id} of epoch ${epoch}: record #${max} is in the log but ${max + 1 - seqs.size} earlier one(s), acknowledged before it was appended, are not`,
        );
      }
    }
    if (this.#extraViolations > 0) {
      this.#violations.push(`… and ${this.#extraViolations} more finding(s)`);
    }
    this.#done(this.#seen);
    return {
      records: this.#records,
      acknowledgedChecked: this.#ackedChecked,
      unacknowledged: this.#unacked,
      lastLsn: last,
      violations: this.#violations,
    };
  }
}
