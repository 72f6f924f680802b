import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { ReplicatedWal } from '@walnut/replicate';
import { NatsCluster } from '@walnut/replicate/testing';
import { Wal } from '@walnut/wal';
import { median, quantile, relativeSpread } from '../stats.js';

/**
 * The replication workloads, beside the local-only Wal in the same run on the same disk:
 *
 * - R-sync: 64 producers, each appending a 128 B record and awaiting it, `records` in all —
 *   the W3 shape — through the local Wal (the baseline), a `sync` ReplicatedWal on an R1
 *   stream, and on an R3 stream; records/s and commit p50/p99.
 * - R-async: the same producers against an `async` R3 primary; the lag (records, bytes, ms)
 *   sampled every 10 ms while they run, and how long after the last acknowledgement the
 *   stream holds everything.
 * - publish RTT: one R3 publish of a 128 B message at a time (the floor of a `sync` commit).
 *
 * Each run also gives the CPU per record of this process (what a primary pays wherever
 * the servers are) and of the three nats-server processes (what they take from the same
 * cores here).
 *
 * A 3-node nats-server cluster on loopback ports is started and stopped by the run. Each
 * repetition interleaves the contenders, so every one meets the same minutes of the machine.
 */

export interface ReplicationBenchOptions {
  readonly records: number;
  readonly producers: number;
  readonly recordSize: number;
  readonly repetitions: number;
  readonly log?: (line: string) => void;
}

export interface RunMetrics {
  recordsPerSec: number;
  p50Us: number;
  p99Us: number;
  /**
   * This process's CPU time (user + system) per record from the first append until the
   * stream held the last one: what the client pays, whatever the servers beside it cost.
   */
  cpuUsPerRecord: number;
  /**
   * The three nats-server processes' CPU time per record over the same span (/proc, 10 ms
   * ticks): on this host they share the client's cores, so it says what bounds the ratios.
   */
  serversCpuUsPerRecord?: number;
  messages?: number;
}

export interface AsyncMetrics extends RunMetrics {
  maxLagRecords: number;
  maxLagBytes: number;
  maxLagMs: number;
  drainMs: number;
}

export interface ReplicationResults {
  readonly options: Omit<ReplicationBenchOptions, 'log'>;
  readonly server: string;
  readonly local: RunMetrics[];
  readonly syncR1: RunMetrics[];
  readonly syncR3: RunMetrics[];
  readonly asyncR3: AsyncMetrics[];
  readonly publishRttUs: { p50: number; p99: number };
}

type Appender = { append(payload: Uint8Array): Promise<bigint> };

async function producers(
  target: Appender,
  options: ReplicationBenchOptions,
  payloads: Buffer[],
  cluster?: NatsCluster,
): Promise<RunMetrics> {
  const latencies = new Float64Array(options.records);
  let next = 0;
  const cpu = process.cpuUsage();
  const servers = cluster === undefined ? 0 : serversCpuUs(cluster);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.producers }, async () => {
      while (next < options.records) {
        const i = next++;
        const t0 = performance.now();
        await target.append(payloads[i % payloads.length]!);
        latencies[i] = (performance.now() - t0) * 1000;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  latencies.sort();
  return {
    recordsPerSec: options.records / seconds,
    p50Us: quantile(latencies, 0.5),
    p99Us: quantile(latencies, 0.99),
    cpuUsPerRecord: cpuPerRecord(cpu, options.records),
    ...(cluster === undefined
      ? {}
      : { serversCpuUsPerRecord: (serversCpuUs(cluster) - servers) / options.records }),
  };
}

function cpuPerRecord(since: NodeJS.CpuUsage, records: number): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / records;
}

/** CPU time (µs, user + system) the cluster's nats-server processes used so far. */
function serversCpuUs(cluster: NatsCluster): number {
  let ticks = 0;
  for (const node of cluster.nodes) {
    const pid = node.process?.pid;
    if (pid === undefined) continue;
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10_000; // USER_HZ is 100 on Linux
}

export async function runReplicationBench(
  options: ReplicationBenchOptions,
): Promise<ReplicationResults> {
  const log = options.log ?? (() => undefined);
  const root = mkdtempSync(join(tmpdir(), 'walnut-bench-repl-'));
  const cluster = await NatsCluster.start({ size: 3 });
  const payloads = Array.from({ length: 1024 }, () => randomBytes(options.recordSize));
  const results: ReplicationResults = {
    options: {
      records: options.records,
      producers: options.producers,
      recordSize: options.recordSize,
      repetitions: options.repetitions,
    },
    server: '',
    local: [],
    syncR1: [],
    syncR3: [],
    asyncR3: [],
    publishRttUs: { p50: 0, p99: 0 },
  };
  let run = 0;
  const dir = () => mkdtempSync(join(root, `${++run}-`));
  try {
    for (let rep = 0; rep < options.repetitions; rep++) {
      const order = ['local', 'syncR1', 'syncR3', 'asyncR3'] as const;
      for (let k = 0; k < order.length; k++) {
        const which = order[(k + rep) % order.length]!;
        if (which === 'local') {
          const wal = await Wal.open(dir()).build();
          results.local.push(await producers(wal, options, payloads));
          await wal.close();
        } else if (which === 'asyncR3') {
          results.asyncR3.push(
            await asyncRun(cluster, dir(), options, payloads, `bench-async-${rep}`),
          );
        } else {
          const replicas = which === 'syncR1' ? 1 : 3;
          const primary = await ReplicatedWal.open(dir(), {
            servers: cluster.servers,
            stream: `bench-${which}-${rep}`,
            replicas,
          });
          const metrics = await producers(primary, options, payloads, cluster);
          metrics.messages = primary.stats().shipper.messages;
          (results as { server: string }).server = primary.stats().guarantee.server;
          await primary.close();
          results[which].push(metrics);
        }
        log(`rep ${rep + 1}/${options.repetitions} ${which} done`);
      }
    }
    (results as { publishRttUs: { p50: number; p99: number } }).publishRttUs = await publishRtt(
      cluster,
      Math.min(2_000, options.records),
    );
  } finally {
    await cluster.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return results;
}

async function asyncRun(
  cluster: NatsCluster,
  dir: string,
  options: ReplicationBenchOptions,
  payloads: Buffer[],
  stream: string,
): Promise<AsyncMetrics> {
  const primary = await ReplicatedWal.open(dir, {
    servers: cluster.servers,
    stream,
    replicas: 3,
    mode: 'async',
  });
  const lag = { records: 0, bytes: 0, ms: 0 };
  const sampler = setInterval(() => {
    const now = primary.stats().lag;
    lag.records = Math.max(lag.records, Number(now.records));
    lag.bytes = Math.max(lag.bytes, now.bytes);
    lag.ms = Math.max(lag.ms, now.ms);
  }, 10);
  const cpu = process.cpuUsage();
  const servers = serversCpuUs(cluster);
  const metrics = await producers(primary, options, payloads);
  const acknowledged = performance.now();
  await primary.waitReplicated(primary.lastLsn, 120_000);
  const drainMs = performance.now() - acknowledged;
  // The shipping that goes on after the last acknowledgement is the client's cost too.
  metrics.cpuUsPerRecord = cpuPerRecord(cpu, options.records);
  metrics.serversCpuUsPerRecord = (serversCpuUs(cluster) - servers) / options.records;
  clearInterval(sampler);
  const messages = primary.stats().shipper.messages;
  await primary.close();
  return {
    ...metrics,
    messages,
    maxLagRecords: lag.records,
    maxLagBytes: lag.bytes,
    maxLagMs: lag.ms,
    drainMs,
  };
}

async function publishRtt(
  cluster: NatsCluster,
  count: number,
): Promise<{ p50: number; p99: number }> {
  const nc = await cluster.connect();
  try {
    // A generous API timeout: creating a 3-replica stream waits for a cluster that a busy
    // 2-core machine may answer slowly (the default 5 s was once not enough).
    const jsm = await jetstreamManager(nc, { timeout: 30_000 });
    await jsm.streams.add({ name: 'bench-rtt', subjects: ['bench.rtt'], num_replicas: 3 });
    const js = jetstream(nc, { timeout: 30_000 });
    const body = randomBytes(128);
    const times = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await js.publish('bench.rtt', body);
      times[i] = (performance.now() - t0) * 1000;
    }
    times.sort();
    return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
  } finally {
    await nc.close();
  }
}

const fmtRate = (v: number) =>
  v >= 1000 ? `${(v / 1000).toFixed(1)} k rec/s` : `${v.toFixed(0)} rec/s`;
const fmtUs = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} ms` : `${v.toFixed(0)} µs`);

/** A Markdown table: medians over the repetitions, ratios to the local Wal of the same run. */
export function formatReplicationResults(r: ReplicationResults): string {
  const base = median(r.local.map((m) => m.recordsPerSec));
  const row = (label: string, runs: RunMetrics[], extra = '') => {
    const rate = median(runs.map((m) => m.recordsPerSec));
    return `| ${label} | ${fmtRate(rate)} | ±${(relativeSpread(runs.map((m) => m.recordsPerSec)) * 100).toFixed(1)}% (${runs.length}) | ${(rate / base).toFixed(2)}× | ${fmtUs(median(runs.map((m) => m.p50Us)))} | ${fmtUs(median(runs.map((m) => m.p99Us)))} | ${median(runs.map((m) => m.cpuUsPerRecord)).toFixed(1)} µs | ${runs[0]?.serversCpuUsPerRecord === undefined ? '–' : `${median(runs.map((m) => m.serversCpuUsPerRecord!)).toFixed(1)} µs`} | ${extra} |`;
  };
  const messages = (runs: RunMetrics[]) =>
    `${(r.options.records / median(runs.map((m) => m.messages ?? 1))).toFixed(1)} records/message`;
  const a = r.asyncR3;
  return [
    `${r.options.producers} producers, ${r.options.records.toLocaleString('en-US')} × ${r.options.recordSize} B, each awaiting its append; nats-server ${r.server}, 3 nodes on loopback. Medians of ${r.options.repetitions} interleaved repetitions; ratios to the local Wal of the same run.`,
    '',
    '| contender | records/s | spread (reps) | vs local Wal | commit p50 | commit p99 | client CPU/record | servers CPU/record | notes |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- |',
    row('local Wal (sync, no replication)', r.local),
    row('ReplicatedWal sync, R1 stream', r.syncR1, messages(r.syncR1)),
    row('ReplicatedWal sync, R3 stream', r.syncR3, messages(r.syncR3)),
    row(
      'ReplicatedWal async, R3 stream',
      a,
      `max lag ${median(a.map((m) => m.maxLagRecords))} records / ${median(a.map((m) => m.maxLagBytes))} B / ${median(a.map((m) => m.maxLagMs)).toFixed(0)} ms; all replicated ${median(a.map((m) => m.drainMs)).toFixed(0)} ms after the last ack`,
    ),
    '',
    `One R3 JetStream publish at a time (128 B, the floor of one sync commit's network part): p50 ${fmtUs(r.publishRttUs.p50)}, p99 ${fmtUs(r.publishRttUs.p99)}.`,
  ].join('\n');
}
