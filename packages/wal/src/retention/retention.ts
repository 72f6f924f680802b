import { jsonReady } from '@walnut/codec';
import type { SegmentInfo } from '@walnut/segmented';
import { type DeleteReason, planRetention } from './plan.js';
import type { RetentionOptions } from './retention-options.js';

export const DEFAULT_RETENTION_INTERVAL_MS = 60_000;

/** What retention needs of its Wal. */
export interface RetentionHost {
  readonly dir: string;
  listSegments(): Promise<readonly SegmentInfo[]>;
  truncateBefore(lsn: bigint): Promise<{ segmentsDeleted: number; bytesReclaimed: number }>;
  /** An LSN every record below which is older than `ageMs` by the log's clock (the floor when none is known to be). */
  olderThan(ageMs: number): Promise<bigint>;
  /** The committed position of every durable cursor on disk (any process's). */
  cursorPositions(): Promise<ReadonlyMap<string, bigint>>;
  /**
   * The lowest position each cursor this process holds has or may land on, commits not
   * yet durable included (a commit may go backwards): read synchronously, just before
   * deleting.
   */
  heldCursorPositions(): ReadonlyMap<string, bigint>;
  /** Tells subscribers what a pass deleted, kept for a failed hook, or passed. */
  publish(report: RetentionReport): void;
}

/** One pass: what it deleted and why, and what stopped it. */
export interface RetentionReport {
  readonly deleted: readonly {
    readonly path: string;
    readonly firstLsn: bigint;
    readonly lastLsn: bigint | null;
    readonly sizeBytes: number;
    readonly reason: DeleteReason;
  }[];
  /** The cursor that kept the next segment (within maxCursorLagBytes), if one did. */
  readonly heldBy: string | undefined;
  /** Cursors whose next record this pass deleted: their next read or commit fails with WAL_CURSOR_BEHIND. */
  readonly cursorsPassed: readonly string[];
  /** beforeDelete rejected: this segment and every later one were kept. */
  readonly hookFailed: { readonly path: string; readonly error: unknown } | undefined;
}

/** `stats().retention`. */
export interface RetentionStats {
  readonly maxBytes: number | null;
  readonly maxSegments: number | null;
  readonly maxAgeMs: number | null;
  readonly maxCursorLagBytes: number | null;
  readonly passes: number;
  readonly segmentsDeleted: number;
  readonly bytesDeleted: number;
  readonly hookFailures: number;
  /** The last pass that deleted something or was stopped by a failure. */
  readonly lastReport: RetentionReport | null;
  /** The last failure of a whole pass (listing, reading cursors, deleting), as its message. */
  readonly lastError: string | null;
}

/**
 * A writer's background retention: a pass each time a segment is sealed and on a timer,
 * never on the append path and never two at once. Each pass reads the cursors from disk
 * (those of read-only openers in other processes too), plans (planRetention), runs
 * beforeDelete for each segment oldest first, and deletes them with one truncateBefore.
 */
export class Retention {
  /**
   * While a pass deletes, the first LSN it keeps: a cursor commit below it is refused
   * (WAL_CURSOR_BEHIND) as one below the floor is, rather than land on deleted records.
   */
  cutting: bigint | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<RetentionReport> | undefined;
  private again = false;
  private stopped = false;
  private sealedBelow = -1n;
  private durableLsn = 0n;
  /**
   * Set when the last pass listed fewer segments than the log has (those after it not yet
   * named, so not yet sealed: a burst outruns durability): the last LSN below the active
   * segment, which once durable means they are all sealed, and a pass may delete them.
   */
  private sealsAt: bigint | undefined;
  private counts = { passes: 0, segmentsDeleted: 0, bytesDeleted: 0, hookFailures: 0 };
  private lastReport: RetentionReport | null = null;
  private lastError: string | null = null;

  constructor(
    private readonly host: RetentionHost,
    private readonly options: RetentionOptions,
  ) {}

  start(activeSegmentFirstLsn: bigint): void {
    this.sealedBelow = activeSegmentFirstLsn;
    const every = this.options.intervalMs ?? DEFAULT_RETENTION_INTERVAL_MS;
    this.timer = setInterval(() => this.schedule(), every);
    this.timer.unref();
    this.schedule();
  }

  /**
   * Called as durability advances: a new active segment means one was sealed, and
   * durability reaching what the last pass could not see sealed means a pass sees more.
   * Cheap.
   */
  progressed(activeSegmentFirstLsn: bigint, durableLsn: bigint): void {
    this.durableLsn = durableLsn;
    if (this.sealsAt !== undefined && durableLsn >= this.sealsAt) {
      this.sealsAt = undefined;
      this.schedule();
    }
    if (activeSegmentFirstLsn === this.sealedBelow) return;
    this.sealedBelow = activeSegmentFirstLsn;
    this.schedule();
  }

  /** Runs a pass now (after the one running, if any) and resolves with its report. */
  async pass(): Promise<RetentionReport> {
    while (this.running) await this.running.catch(() => undefined);
    this.running = this.runPass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** No more passes; resolves once the running one ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    while (this.running) await this.running.catch(() => undefined);
  }

  stats(): RetentionStats {
    const o = this.options;
    return {
      maxBytes: o.maxBytes ?? null,
      maxSegments: o.maxSegments ?? null,
      maxAgeMs: o.maxAgeMs ?? null,
      maxCursorLagBytes: o.maxCursorLagBytes ?? null,
      ...this.counts,
      lastReport: this.lastReport,
      lastError: this.lastError,
    };
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    // Off the caller's stack: a pass lists and deletes files, which an append must not wait for.
    setImmediate(() => {
      if (this.stopped || this.running) return;
      this.pass().then(
        () => this.rerun(),
        () => this.rerun(),
      );
    });
  }

  /** Notes whether segments past `segments` (listed just now) are still to be sealed. */
  private awaitSeals(segments: readonly SegmentInfo[]): void {
    const listedUpTo = segments[segments.length - 1]?.firstLsn ?? 0n;
    if (listedUpTo >= this.sealedBelow) {
      this.sealsAt = undefined;
      return;
    }
    this.sealsAt = this.sealedBelow - 1n;
    // Already durable past it: the seals are done or under way; look again after this pass.
    // Strictly past it only, so that a seal still running cannot make passes chase it.
    if (this.durableLsn > this.sealsAt) {
      this.sealsAt = undefined;
      this.again = true;
    }
  }

  private rerun(): void {
    if (!this.again) return;
    this.again = false;
    this.schedule();
  }

  private async runPass(): Promise<RetentionReport> {
    this.counts.passes++;
    try {
      return await this.deleteWhatIsOver();
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
      throw error;
    }
  }

  private async deleteWhatIsOver(): Promise<RetentionReport> {
    const host = this.host;
    const segments = await host.listSegments();
    this.awaitSeals(segments);
    const ageMs = this.options.maxAgeMs;
    const agedBelow = ageMs === undefined ? undefined : await host.olderThan(ageMs);
    const planOptions = { ...this.options, agedBelow };
    let cursors = lowest(await host.cursorPositions(), host.heldCursorPositions());
    let plan = planRetention(segments, cursors, planOptions);
    const deleted: RetentionReport['deleted'][number][] = [];
    let hookFailed: RetentionReport['hookFailed'];
    for (let i = 0; i < plan.reasons.length && !this.stopped; i++) {
      const segment = segments[i]!;
      try {
        await this.options.beforeDelete?.(segment);
      } catch (error) {
        hookFailed = { path: segment.path, error };
        this.counts.hookFailures++;
        break;
      }
      const { path, firstLsn, lastLsn, sizeBytes } = segment;
      deleted.push({ path, firstLsn, lastLsn, sizeBytes, reason: plan.reasons[i]! });
    }
    if (deleted.length > 0) {
      // This process's cursors may have committed (backwards, too) while the hooks ran:
      // planned again, with nothing awaited from here until the cut guards commits.
      cursors = lowest(cursors, host.heldCursorPositions());
      plan = planRetention(segments, cursors, planOptions);
      if (plan.reasons.length < deleted.length) deleted.length = plan.reasons.length;
    }
    if (deleted.length > 0) {
      const floor = segments[deleted.length]!.firstLsn;
      this.cutting = floor;
      try {
        await host.truncateBefore(floor);
      } finally {
        this.cutting = undefined;
      }
      this.counts.segmentsDeleted += deleted.length;
      for (const segment of deleted) this.counts.bytesDeleted += segment.sizeBytes;
    }
    const firstKept = segments[deleted.length]?.firstLsn ?? 0n;
    const cursorsPassed = plan.passes.filter((name) => cursors.get(name)! + 1n < firstKept);
    const report = jsonReady<RetentionReport>({
      deleted,
      heldBy: plan.heldBy,
      cursorsPassed,
      hookFailed,
    });
    if (deleted.length > 0 || hookFailed !== undefined) {
      this.lastReport = report;
      host.publish(report);
    }
    return report;
  }
}

/** Each cursor at the lower of its two positions (`b` may name cursors `a` does not). */
function lowest(
  a: ReadonlyMap<string, bigint>,
  b: ReadonlyMap<string, bigint>,
): ReadonlyMap<string, bigint> {
  if (b.size === 0) return a;
  const out = new Map(a);
  for (const [name, lsn] of b) {
    const known = out.get(name);
    if (known === undefined || lsn < known) out.set(name, lsn);
  }
  return out;
}
