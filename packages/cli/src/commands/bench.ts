import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LatencyRecorder } from '../demo/latency.js';
import { openWal, walFacts } from '../demo/wal-session.js';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { formatCount, formatDuration, formatRate, formatTable } from '../format.js';
import { printJson } from '../json.js';
import { type Output, printLine } from '../output.js';

export interface BenchOptions {
  readonly quick?: boolean;
  readonly json?: boolean;
  readonly dir?: string;
  readonly workloads?: readonly string[];
}

interface Workload {
  readonly id: string;
  readonly title: string;
  readonly records: number;
  readonly recordSize: number;
  readonly producers: number;
}

export interface BenchResult {
  readonly id: string;
  readonly title: string;
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSecond: number;
  readonly mibPerSecond: number;
  readonly fsyncs: number;
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

/**
 * The write workloads of the project benchmark (bench/, issue 8) that need Walnut alone:
 * W1 (buffered appends, one durable sync at the end) and W3 (group commit: 64 producers,
 * each awaiting durability). Same record counts and sizes as bench/; the full comparison
 * against node:fs and the peers is `pnpm bench` at the repository root.
 */
function workloads(quick: boolean): Workload[] {
  return [
    {
      id: 'W1',
      title: 'buffered appends, one durable sync at the end',
      records: quick ? 20_000 : 1_000_000,
      recordSize: 128,
      producers: 1,
    },
    {
      id: 'W3',
      title: 'group commit: 64 producers, each awaiting durability',
      records: quick ? 2_000 : 50_000,
      recordSize: 128,
      producers: 64,
    },
  ];
}

export async function benchCommand(options: BenchOptions, out: Output): Promise<number> {
  const all = workloads(options.quick === true);
  const chosen = options.workloads
    ? options.workloads.map((id) => {
        const w = all.find((x) => x.id.toLowerCase() === id.toLowerCase());
        if (!w)
          throw new UsageError(
            `unknown workload ${id}; choose from ${all.map((x) => x.id).join(', ')}`,
          );
        return w;
      })
    : all;
  const root = options.dir ?? (await mkdtemp(join(tmpdir(), 'walnut-bench-')));
  const results: BenchResult[] = [];
  let backend = '';
  try {
    for (const w of chosen) {
      if (!options.json)
        printLine(
          out.stderr,
          `${w.id}: ${w.title} (${formatCount(w.records)} × ${w.recordSize} B)…`,
        );
      const r = await runWorkload(join(root, w.id), w);
      backend = r.backend;
      results.push(r.result);
    }
  } finally {
    if (options.dir === undefined) await rm(root, { recursive: true, force: true });
  }
  if (options.json) {
    printJson(out.stdout, { backend, results });
    return ExitCode.OK;
  }
  printLine(
    out.stdout,
    formatTable(
      ['workload', 'records', 'time', 'records/s', 'MiB/s', 'fsyncs', 'p50', 'p99'],
      results.map((r) => [
        r.id,
        formatCount(r.records),
        formatDuration(r.seconds * 1000),
        formatRate(r.recordsPerSecond),
        r.mibPerSecond.toFixed(1),
        formatCount(r.fsyncs),
        r.p50Ms === null ? '-' : formatDuration(r.p50Ms),
        r.p99Ms === null ? '-' : formatDuration(r.p99Ms),
      ]),
    ),
  );
  printLine(out.stdout, `backend: ${backend}`);
  return ExitCode.OK;
}

async function runWorkload(
  dir: string,
  w: Workload,
): Promise<{ result: BenchResult; backend: string }> {
  const payload = Buffer.alloc(w.recordSize, 0x61);
  // W1 asks for durability once, at the end; W3 for every append (the default 'sync').
  const wal = await openWal(dir, w.producers === 1 ? { durability: 'none' } : {});
  const facts = walFacts(wal);
  const latency = new LatencyRecorder();
  const started = performance.now();
  if (w.producers === 1) {
    for (let i = 0; i < w.records; i++) await wal.append(payload);
    await wal.sync();
  } else {
    let next = 0;
    const producer = async () => {
      while (next < w.records) {
        next++;
        const t0 = performance.now();
        await wal.append(payload);
        latency.record(performance.now() - t0);
      }
    };
    await Promise.all(Array.from({ length: w.producers }, producer));
  }
  const seconds = (performance.now() - started) / 1000;
  const fsyncs = walFacts(wal).fsyncs - facts.fsyncs;
  await wal.close();
  const [p50, p99] = latency.count > 0 ? latency.percentiles(50, 99) : [null, null];
  return {
    backend: `${facts.backend} (${facts.backendReason})`,
    result: {
      id: w.id,
      title: w.title,
      records: w.records,
      seconds,
      recordsPerSecond: w.records / seconds,
      mibPerSecond: (w.records * w.recordSize) / 2 ** 20 / seconds,
      fsyncs,
      p50Ms: p50 ?? null,
      p99Ms: p99 ?? null,
    },
  };
}
