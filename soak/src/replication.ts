import { FAULT_KINDS, type NemesisReport, runNemesis } from '@walnut/replicate/testing';

/**
 * `--replication N`: N faults of the nemesis against a 3-node nats-server cluster on
 * loopback (kill -9 of the leader, a follower or every server, SIGSTOP/SIGCONT, a partition
 * of the leader through the route proxies, a lost quorum) while 64 producers append 256 B
 * records to a sync primary; the checks are @walnut/replicate's (packages/replicate,
 * "Failures, measured").
 */
export async function runReplicationSoak(options: {
  faults: number;
  seed: number;
  workDir: string;
  progress: (line: string) => void;
}): Promise<NemesisReport> {
  return runNemesis({
    faults: options.faults,
    seed: options.seed,
    workDir: options.workDir,
    checkEvery: 10,
    progress: options.progress,
  });
}

const n = (x: number) => x.toLocaleString('en-US');

/** The p50 / p90 / max of a list of stalls, ms. */
function spread(values: readonly number[]): string {
  if (values.length === 0) return '–';
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `p50 ${n(at(0.5))} ms, p90 ${n(at(0.9))} ms, max ${n(sorted[sorted.length - 1]!)} ms`;
}

/** The replication part of the soak summary, and its violations. */
export function summarizeReplication(r: NemesisReport): { text: string; violations: string[] } {
  const total = FAULT_KINDS.reduce((sum, kind) => sum + r.faults[kind], 0);
  const lines = [
    `replication faults:    ${n(total)} (${FAULT_KINDS.map((k) => `${k} ${n(r.faults[k])}`).join(', ')})`,
    ...FAULT_KINDS.filter((k) => r.faults[k] > 0).map(
      (k) => `  stall ${`${k}:`.padEnd(18)} ${spread(r.stallsMs[k])}`,
    ),
    `  acknowledged:        ${n(r.acknowledged)}; lost ${n(r.acknowledgedLost)}; silent divergences ${n(r.silentDivergences)}; reported divergences ${n(r.reportedDivergences)}`,
    `  checks:              ${n(r.checks)} (fresh follower, every server's copy: ${n(r.replicaMessagesCompared)} messages compared)`,
    `  appends refused:     ${
      Object.entries(r.refused)
        .map(([code, c]) => `${code} ${n(c)}`)
        .join(', ') || 'none'
    }`,
    `  violations:          ${n(r.findings.length)}`,
  ];
  return { text: `${lines.join('\n')}\n`, violations: r.findings };
}
