/** The shape of a results file, and the summary (medians, spread, ratios) derived from it. */
import type { RunMetrics } from './drivers.js';
import type { DurabilityVerdict, SyscallCounts } from './durability.js';
import type { MachineInfo } from './machine.js';
import { formatMicros } from './report/format.js';
import { median, relativeSpread } from './stats.js';
import type { Mode, WorkloadId, WorkloadSpec } from './workloads.js';

export interface ContenderInfo {
  readonly id: string;
  readonly label: string;
  readonly available: boolean;
  readonly reason?: string;
  readonly versions: Record<string, string>;
  readonly notes: readonly string[];
}

export type Variant = 'warm' | 'cold';

export interface RunRecord {
  readonly contender: string;
  readonly workload: WorkloadId;
  readonly variant?: Variant;
  /**
   * 'verification': the untimed run under strace that decides durability for the timed runs
   * of the same contender and workload (decision 0702); never part of a median.
   */
  readonly purpose?: 'verification';
  readonly rep: number;
  readonly status: 'ok' | 'failed' | 'skipped';
  readonly error?: string;
  readonly metrics?: RunMetrics;
  readonly durability: DurabilityVerdict;
  readonly strace?: SyscallCounts;
  /** Wall time of the whole child process, setup included. */
  readonly childSeconds: number;
}

export interface BenchResults {
  readonly schema: 1;
  readonly mode: Mode;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly machine: MachineInfo;
  readonly revision: string;
  readonly dataDir: string;
  /** `--slow-disk MS`: the logs were on crashfs, whose fsyncs take this much longer. */
  readonly slowDisk?: { readonly fsyncDelayMs: number };
  readonly build: { readonly ok: boolean; readonly detail: string };
  readonly workloads: Record<WorkloadId, WorkloadSpec>;
  readonly contenders: readonly ContenderInfo[];
  readonly runs: readonly RunRecord[];
  /** Runs a quick run left out to stay within its time budget. */
  readonly skippedRuns: readonly string[];
  readonly summary: readonly SummaryRow[];
}

export interface SummaryRow {
  /** 'W1', 'W2', 'W3', 'W4 warm', 'W4 cold', 'W5', 'W6'. */
  readonly row: string;
  readonly workload: WorkloadId;
  readonly contender: string;
  readonly label: string;
  readonly metric: string;
  readonly unit: string;
  readonly median: number | null;
  readonly min: number | null;
  readonly max: number | null;
  readonly spread: number | null;
  readonly reps: number;
  /**
   * Against the floor's median, oriented so that higher is better: the contender's median over
   * the floor's for a throughput, the floor's over the contender's for W6's delay (2× = half
   * the floor's delay). Null when not ranked.
   */
  readonly ratio: number | null;
  readonly ranked: boolean;
  readonly status: string;
  readonly details: string;
}

interface PrimaryMetric {
  readonly name: string;
  readonly unit: string;
  readonly of: (metrics: RunMetrics) => number;
  /** A delay, not a throughput: the ratio to the floor is inverted so higher stays better. */
  readonly lowerIsBetter?: boolean;
}

export function primaryMetric(workload: WorkloadId): PrimaryMetric {
  switch (workload) {
    case 'W2':
      return { name: 'durable appends/s', unit: 'ops/s', of: (m) => m.recordsPerSec };
    case 'W5':
      return { name: 'throughput', unit: 'MB/s', of: (m) => m.mbPerSec };
    case 'W6':
      return {
        name: 'event-loop delay p99',
        unit: 'µs',
        of: (m) => m.loopDelayP99Us ?? Number.NaN,
        lowerIsBetter: true,
      };
    default:
      return { name: 'records/s', unit: 'rec/s', of: (m) => m.recordsPerSec };
  }
}

/** The ratio of a median to the floor's, oriented so that higher is better (see SummaryRow). */
export function ratioToFloor(metric: PrimaryMetric, value: number, floor: number): number | null {
  const ratio = metric.lowerIsBetter ? floor / value : value / floor;
  return Number.isFinite(ratio) ? ratio : null;
}

export function rowName(workload: WorkloadId, variant?: Variant): string {
  return variant === undefined ? workload : `${workload} ${variant}`;
}

function micros(us: number | undefined): string {
  return us === undefined ? '' : formatMicros(us);
}

function details(workload: WorkloadId, runs: readonly RunRecord[]): string {
  const ok = runs.filter((run) => run.metrics !== undefined);
  if (ok.length === 0) return '';
  const mid = (of: (m: RunMetrics) => number | undefined) => {
    const values = ok.map((run) => of(run.metrics!)).filter((v): v is number => v !== undefined);
    return values.length === 0 ? undefined : median(values);
  };
  const parts: string[] = [];
  if (workload === 'W2' || workload === 'W3') {
    parts.push(`p50 ${micros(mid((m) => m.p50Us))}`, `p99 ${micros(mid((m) => m.p99Us))}`);
  }
  if (workload === 'W6') {
    const errors = ok.reduce((sum, run) => sum + (run.metrics!.requestErrors ?? 0), 0);
    const target = ok[0]!.metrics!.targetPerSec ?? Number.NaN;
    parts.push(
      `loop p50 ${micros(mid((m) => m.loopDelayP50Us))}, max ${micros(mid((m) => m.loopDelayMaxUs))}`,
      `requests p50 ${micros(mid((m) => m.requestP50Us))}, p99 ${micros(mid((m) => m.requestP99Us))}` +
        (errors > 0 ? ` (${errors} failed)` : ''),
      `appends ${mid((m) => m.recordsPerSec)?.toFixed(0)}/s of ${target}/s, p99 ${micros(mid((m) => m.p99Us))}`,
    );
  }
  if (workload === 'W3') {
    const syncs = median(
      ok.flatMap((run) => ('syncs' in run.durability ? [run.durability.syncs] : [])),
    );
    const records = ok[0]!.metrics!.records;
    if (Number.isFinite(syncs) && syncs > 0) {
      parts.push(`${syncs.toFixed(0)} fsyncs`, `${(records / syncs).toFixed(1)} rec/fsync`);
    } else {
      // Durable by an O_DSYNC descriptor: no fsync call; the writer counts its own writes.
      const writes = mid((m) => m.selfReportedSyncs ?? undefined);
      if (writes !== undefined && writes > 0) {
        parts.push(
          `${writes.toFixed(0)} dsync writes`,
          `${(records / writes).toFixed(1)} rec/write`,
        );
      }
    }
  }
  if (workload === 'W1' || workload === 'W4' || workload === 'W5') {
    parts.push(`${mid((m) => m.mbPerSec)?.toFixed(1)} MB/s`);
  }
  if (workload === 'W4') {
    parts.push(ok[0]!.metrics!.checksumsVerified ? 'CRC checked' : 'no checksums');
  }
  return parts.join(', ');
}

/**
 * A row is ranked when at least one repetition succeeded and none was found not durable. A
 * repetition that failed (a crash, a hang, a package rebuilt under it) is named in the status;
 * the median is then over the repetitions that succeeded.
 */
function statusOf(runs: readonly RunRecord[]): { status: string; ranked: boolean } {
  const ok = runs.filter((run) => run.status === 'ok');
  const failed = runs.find((run) => run.status !== 'ok');
  if (ok.length === 0) {
    return { status: `${failed?.status}: ${failed?.error ?? ''}`, ranked: false };
  }
  const notDurable = ok.find((run) => run.durability.status === 'not-durable');
  if (notDurable !== undefined && notDurable.durability.status === 'not-durable') {
    return { status: `not durable (${notDurable.durability.why})`, ranked: false };
  }
  const unverified = ok.find((run) => run.durability.status === 'unverified');
  if (unverified !== undefined && unverified.durability.status === 'unverified') {
    return { status: `durability unverified (${unverified.durability.why})`, ranked: false };
  }
  const durable = ok.find((run) => run.durability.status === 'durable');
  const base =
    durable !== undefined && durable.durability.status === 'durable'
      ? `durable (${durable.durability.source})`
      : 'ok';
  const note =
    failed === undefined
      ? ''
      : `; ${runs.length - ok.length} of ${runs.length} runs ${failed.status}: ${failed.error ?? ''}`;
  return { status: `${base}${note}`, ranked: true };
}

export function summarize(
  runs: readonly RunRecord[],
  contenders: readonly ContenderInfo[],
  floorId: string,
): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const keys = new Map<string, { workload: WorkloadId; variant?: Variant }>();
  const timed = runs.filter((run) => run.purpose !== 'verification');
  for (const run of timed) {
    const key = rowName(run.workload, run.variant);
    if (!keys.has(key)) keys.set(key, { workload: run.workload, variant: run.variant });
  }
  const order = ['W1', 'W2', 'W3', 'W4 warm', 'W4 cold', 'W5', 'W6'];
  const sortedKeys = [...keys.keys()].sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const key of sortedKeys) {
    const { workload } = keys.get(key)!;
    const metric = primaryMetric(workload);
    const forKey = timed.filter((run) => rowName(run.workload, run.variant) === key);
    const floorRuns = forKey.filter((run) => run.contender === floorId && run.metrics);
    const floorMedian =
      floorRuns.length > 0 ? median(floorRuns.map((run) => metric.of(run.metrics!))) : null;
    for (const contender of contenders) {
      const mine = forKey.filter((run) => run.contender === contender.id);
      if (mine.length === 0) continue;
      const values = mine.flatMap((run) => (run.metrics ? [metric.of(run.metrics)] : []));
      const { status, ranked } = statusOf(mine);
      const mid = values.length > 0 ? median(values) : null;
      rows.push({
        row: key,
        workload,
        contender: contender.id,
        label: contender.label,
        metric: metric.name,
        unit: metric.unit,
        median: mid,
        min: values.length > 0 ? Math.min(...values) : null,
        max: values.length > 0 ? Math.max(...values) : null,
        spread: values.length > 1 ? relativeSpread(values) : null,
        reps: values.length,
        ratio:
          ranked && mid !== null && floorMedian !== null
            ? ratioToFloor(metric, mid, floorMedian)
            : null,
        ranked,
        status,
        details: details(workload, mine),
      });
    }
  }
  return rows;
}
