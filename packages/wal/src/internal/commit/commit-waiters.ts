// The global `performance` is a lazy getter in Node 20: each read goes through a generic
// inline cache and the getter (~150 instructions per append, perf stat); the import is a constant.
import { performance } from 'node:perf_hooks';
import type { WalError } from '@walnut/codec';
import type { LatencyHistogram } from './latency-histogram.js';

const COMPACT_AT = 4096;

/**
 * The appends waiting for their commit, in LSN order: parallel arrays consumed from `head`
 * (no object per append), resolved in bulk as a commit covers them.
 */
export class CommitWaiters {
  private readonly lsns: bigint[] = [];
  private readonly resolves: ((lsn: bigint) => void)[] = [];
  private readonly rejects: ((error: unknown) => void)[] = [];
  private readonly starts: number[] = [];
  private head = 0;

  constructor(private readonly latency: LatencyHistogram) {}

  push(
    lsn: bigint,
    resolve: (lsn: bigint) => void,
    reject: (error: unknown) => void,
    start: number,
  ): void {
    this.lsns.push(lsn);
    this.resolves.push(resolve);
    this.rejects.push(reject);
    this.starts.push(start);
  }

  count(): number {
    return this.lsns.length - this.head;
  }

  /** Resolves, in bulk, every waiter whose record is covered by `lsn`. */
  settle(lsn: bigint): void {
    const lsns = this.lsns;
    let head = this.head;
    if (head === lsns.length || lsns[head]! > lsn) return;
    const now = performance.now();
    const resolves = this.resolves;
    const rejects = this.rejects;
    const starts = this.starts;
    while (head < lsns.length && lsns[head]! <= lsn) {
      this.latency.record((now - starts[head]!) * 1000);
      const resolve = resolves[head]!;
      resolves[head] = undefined as never;
      rejects[head] = undefined as never;
      resolve(lsns[head]!);
      head++;
    }
    this.head = head;
    this.compact();
  }

  /**
   * Rejects every waiter: those up to `mayBeInLog` with their own WAL_OUTCOME_UNKNOWN
   * (`unknown(lsn)`), the later ones — never in the log — with `absent`. Returns how many.
   */
  rejectAll(mayBeInLog: bigint, absent: WalError, unknown: (lsn: bigint) => WalError): number {
    const lsns = this.lsns;
    const rejected = lsns.length - this.head;
    for (let i = this.head; i < lsns.length; i++) {
      const lsn = lsns[i]!;
      this.rejects[i]!(lsn <= mayBeInLog ? unknown(lsn) : absent);
    }
    this.head = lsns.length;
    this.compact();
    return rejected;
  }

  /** Rejects, with `cause`, the waiters of records above `lsn` (rolled back). Returns how many. */
  rejectAbove(lsn: bigint, cause: WalError): number {
    const lsns = this.lsns;
    let cut = lsns.length;
    while (cut > this.head && lsns[cut - 1]! > lsn) cut--;
    for (let i = cut; i < lsns.length; i++) this.rejects[i]!(cause);
    const rejected = lsns.length - cut;
    lsns.length = cut;
    this.resolves.length = cut;
    this.rejects.length = cut;
    this.starts.length = cut;
    return rejected;
  }

  private compact(): void {
    const head = this.head;
    if (head === this.lsns.length) {
      this.lsns.length = 0;
      this.resolves.length = 0;
      this.rejects.length = 0;
      this.starts.length = 0;
      this.head = 0;
    } else if (head >= COMPACT_AT && head * 2 >= this.lsns.length) {
      this.lsns.splice(0, head);
      this.resolves.splice(0, head);
      this.rejects.splice(0, head);
      this.starts.splice(0, head);
      this.head = 0;
    }
  }
}
