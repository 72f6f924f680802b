import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  FAULT_KINDS,
  type FaultKind,
  type NemesisReport,
  runNemesis,
} from '@walnut/replicate/testing';
import { CrashFs, crashFsAvailability } from './crashfs/crash-fs.js';
import { Rng } from './random.js';

/**
 * `--replication N`: N faults of the nemesis against a 3-node nats-server cluster on
 * loopback (kill -9 of the leader, a follower or every server, SIGSTOP/SIGCONT, a partition
 * of the leader through the route proxies, a lost quorum, a promotion while the primary's
 * links stall) while 64 producers append 256 B
 * records to a sync primary; the checks are @walnut/replicate's (packages/replicate,
 * "Tests"). Where FUSE is usable, the servers' stores are on crashfs and a power cut of all
 * three is one more kind of fault.
 */
export async function runReplicationSoak(options: {
  faults: number;
  seed: number;
  workDir: string;
  progress: (line: string) => void;
  /** Only these kinds (default: every kind this machine can run). */
  kinds?: readonly FaultKind[];
  /** Faults between two checks (default 10), and the nemesis's sizes (its defaults). */
  checkEvery?: number;
  maxFaultMs?: number;
  appendsPerSecond?: number;
  signal?: AbortSignal;
}): Promise<NemesisReport> {
  const { available, reason } = crashFsAvailability();
  if (!available) options.progress(`replication: no power-loss faults (${reason})`);
  const stores = available
    ? await CrashStores.mount(
        join(options.workDir, 'stores'),
        Rng.forCase(options.seed, 'stores', 0),
      )
    : null;
  try {
    return await runNemesis({
      faults: options.faults,
      seed: options.seed,
      workDir: options.workDir,
      checkEvery: options.checkEvery ?? 10,
      progress: options.progress,
      ...(options.kinds ? { kinds: options.kinds } : {}),
      ...(options.maxFaultMs ? { maxFaultMs: options.maxFaultMs } : {}),
      ...(options.appendsPerSecond ? { appendsPerSecond: options.appendsPerSecond } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(stores
        ? {
            powerLoss: {
              storeDirs: stores.mountpoints,
              cut: () => stores.cut(),
              settle: () => stores.settle(),
            },
          }
        : {}),
    });
  } finally {
    if (stores)
      options.progress(
        `power cuts rolled back ${stores.dropped} unsynced changes; ${stores.pagesKept} pages of unsynced writes kept out of order`,
      );
    await stores?.unmount();
  }
}

/**
 * The three servers' stores, each on its own crashfs mount: `cut` cuts the power of all
 * three (whatever no fsync covered is gone, the last unsynced write maybe torn; on half the
 * mounts pages of unsynced writes survive out of order, as writeback leaves them) and mounts
 * them again over what survived.
 */
class CrashStores {
  private constructor(
    private readonly backings: string[],
    readonly mountpoints: string[],
    private readonly rng: Rng,
    private mounts: CrashFs[],
  ) {}

  /** Unsynced changes the power cuts rolled back, over all three stores. */
  dropped = 0;
  /** Pages of unsynced writes the cuts kept out of order. */
  pagesKept = 0;

  static async mount(root: string, rng: Rng): Promise<CrashStores> {
    const backings = [1, 2, 3].map((i) => join(root, `backing-${i}`));
    const mountpoints = [1, 2, 3].map((i) => join(root, `n${i}`));
    for (const dir of [...backings, ...mountpoints]) mkdirSync(dir, { recursive: true });
    const stores = new CrashStores(backings, mountpoints, rng, []);
    await stores.mountAll();
    return stores;
  }

  async cut(): Promise<void> {
    await Promise.all(this.mounts.map((m) => m.crash()));
    for (const m of this.mounts) {
      const summary = await m.unmount();
      this.dropped += summary.changesDropped;
      this.pagesKept += summary.pagesKept;
    }
    this.mounts = [];
    await this.mountAll();
  }

  /** Everything written so far becomes durable: a clean unmount (no power cut), mounted again. */
  async settle(): Promise<void> {
    for (const m of this.mounts) await m.unmount();
    this.mounts = [];
    await this.mountAll();
  }

  async unmount(): Promise<void> {
    for (const m of this.mounts) await m.unmount().catch(() => undefined);
    this.mounts = [];
  }

  private async mountAll(): Promise<void> {
    try {
      for (const [i, backing] of this.backings.entries()) {
        const tearSeed = this.rng.u32();
        const reorderSeed = this.rng.chance(0.5) ? this.rng.u32() : undefined;
        this.mounts.push(
          await CrashFs.mount({
            backing,
            mountpoint: this.mountpoints[i]!,
            tearSeed,
            reorderSeed,
          }),
        );
      }
    } catch (error) {
      await this.unmount();
      throw error;
    }
  }
}

const n = (x: number) => x.toLocaleString('en-US');

/** The p50 / p90 / max of a list of stalls, ms. */
function spread(values: readonly number[]): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `p50 ${n(at(0.5))} ms, p90 ${n(at(0.9))} ms, max ${n(sorted[sorted.length - 1]!)} ms`;
}

const WHAT: Record<FaultKind, string> = {
  'kill-leader': '`kill -9` of the stream leader',
  'kill-follower': '`kill -9` of a server not leading',
  'kill-all': '`kill -9` of all three servers',
  'stop-cont': 'SIGSTOP, then SIGCONT, of one server',
  'partition-leader': 'the leader cut off from the other two',
  'quorum-loss': 'both servers not leading killed (no quorum)',
  'power-loss':
    'power cut of all three (crashfs: unsynced writes lost, torn or kept out of order; half over stores already holding data)',
  'promote-partitioned':
    "a follower promoted while the primary's links stall (held, alive), healed after",
  'stop-primary': 'SIGSTOP, then SIGCONT, of a primary alone (its own process)',
};

/** The replicate README's failure table, as Markdown, from a run's report. */
export function replicationTable(r: NemesisReport): string {
  const rows = FAULT_KINDS.filter((k) => r.faults[k] > 0).map(
    (k) => `| ${WHAT[k]} | ${n(r.faults[k])} | ${spread(r.stallsMs[k])} |`,
  );
  return [
    '| fault | times | longest time without an acknowledgement, per fault |',
    '| ----- | ----: | ---- |',
    ...rows,
    '',
    `${n(r.acknowledged)} records acknowledged; ${n(r.acknowledgedLost)} lost; ${n(r.acknowledgedTwice)} LSNs acknowledged twice; ${r.acknowledgedMissingOnReplica.map(n).join(' / ')} missing from the servers' own copies (n1 / n2 / n3, summed over the checks); ${n(r.silentDivergences)} silent divergences; ${n(r.reseeds)} re-seeds; ${n(r.checks)} checks; ${n(r.storesReplaced)} servers' stores replaced after they died twice of them, ${n(r.operatorRestarts)} restarts of the cluster after a minute without JetStream.`,
  ].join('\n');
}

/** The replication part of the soak summary, and its violations. */
export function summarizeReplication(r: NemesisReport): {
  text: string;
  violations: string[];
  serverExits: number;
} {
  const total = FAULT_KINDS.reduce((sum, kind) => sum + r.faults[kind], 0);
  const lines = [
    `replication faults:    ${n(total)} (${FAULT_KINDS.map((k) => `${k} ${n(r.faults[k])}`).join(', ')})`,
    ...FAULT_KINDS.filter((k) => r.faults[k] > 0).map(
      (k) => `  stall ${`${k}:`.padEnd(18)} ${spread(r.stallsMs[k])}`,
    ),
    `  acknowledged:        ${n(r.acknowledged)}; lost ${n(r.acknowledgedLost)}; LSNs acknowledged twice (the first lost) ${n(r.acknowledgedTwice)}; missing from n1/n2/n3's own copies ${r.acknowledgedMissingOnReplica.map(n).join('/')}; silent divergences ${n(r.silentDivergences)}; reported divergences ${n(r.reportedDivergences)}; short copies a fresh follower refused (then retried) ${n(r.shortCopiesReported)}; stream re-seeds ${n(r.reseeds)}; re-seeds refused as stale reads ${n(r.staleReads)}; short leaders stepped down ${n(r.stepDowns)}; promotions the cluster did not answer (retried) ${n(r.promotionsUnanswered)}`,
    `  checks:              ${n(r.checks)} (fresh follower, every server's copy: ${n(r.replicaMessagesCompared)} messages checked against the log; ${n(r.replicaSequenceMismatches)} sequences where the servers' copies differ while each agrees with the log)`,
    `  appends refused:     ${
      Object.entries(r.refused)
        .map(([code, c]) => `${code} ${n(c)}`)
        .join(', ') || 'none'
    }`,
    `  servers that exited: ${n(r.serverExits.length)} (no fault held them down; each started again); stores replaced by empty ones after a server died twice of its own: ${n(r.storesReplaced)}; clusters restarted server by server after a minute without JetStream: ${n(r.operatorRestarts)}`,
    ...r.serverExits.slice(0, 10).map((said) => `    ${said}`),
    `  violations:          ${n(r.findings.length)}`,
  ];
  lines.push('', "the replicate README's failure table from this run:", '', replicationTable(r));
  return {
    text: `${lines.join('\n')}\n`,
    violations: r.findings,
    serverExits: r.serverExits.length,
  };
}
