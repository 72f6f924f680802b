/**
 * `walnut serve` against `@durable-streams/server`'s file store (issue #60, "Against the
 * reference server"): `pnpm --filter @walnut/bench run bench:serve [--seconds N] [--reps N]
 * [--dir PATH]`. 64 HTTP producers over 100 streams each POST one JSON message with producer
 * headers and wait for its acknowledgement (Walnut acknowledges once the log is fsynced, the
 * reference once its file is); appends/s and p99 latency per server, each server in a process
 * of its own with its data on the same disk (`--dir`), in alternating order, ratios from this
 * run. The load average is printed with each run: on a shared machine the numbers are noisy.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machineInfo } from './machine.js';
import { type ServerKind, startServer, stopServer } from './serve/child.js';
import { createStreams, runLoad } from './serve/load.js';
import { median, quantile } from './stats.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    reps: { type: 'string', default: '2' },
    producers: { type: 'string', default: '64' },
    streams: { type: 'string', default: '100' },
    dir: { type: 'string' },
  },
});
const seconds = Number(values.seconds);
const reps = Number(values.reps);
const producers = Number(values.producers);
const streams = Number(values.streams);
const root = values.dir ?? tmpdir();
const WARMUP_MS = 1_000;
mkdirSync(root, { recursive: true });

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');

interface Run {
  readonly appendsPerSec: number;
  readonly p50: number;
  readonly p99: number;
}

async function measure(kind: ServerKind): Promise<Run> {
  const dir = mkdtempSync(join(root, `walnut-serve-bench-${kind}-`));
  const server = await startServer(kind, dir);
  try {
    await createStreams(server.url, streams);
    const latencies: number[] = [];
    let counting = false;
    let stop = false;
    let refusal: string | undefined;
    const running = runLoad({
      url: () => server.url,
      producers,
      streams,
      stop: () => stop,
      onAck: (_, ms) => {
        if (counting) latencies.push(ms);
      },
      onRefusal: (message) => {
        refusal ??= message;
      },
    });
    await new Promise((resolve) => setTimeout(resolve, WARMUP_MS));
    counting = true;
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    counting = false;
    const elapsed = (performance.now() - started) / 1000;
    stop = true;
    await running;
    if (refusal !== undefined) throw new Error(`${kind} refused an append: ${refusal}`);
    const sorted = Float64Array.from(latencies).sort();
    return {
      appendsPerSec: latencies.length / elapsed,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
    };
  } finally {
    await stopServer(server, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const machine = machineInfo(root);
console.log(
  `serve bench: ${producers} producers over ${streams} streams, ${seconds} s per run, ${reps} reps; ${machine.cpuModel}, ${machine.cores} cores, ${machine.fileSystem} on ${machine.device}, Node ${machine.node}`,
);
const runs: Record<ServerKind, Run[]> = { walnut: [], reference: [] };
for (let rep = 0; rep < reps; rep++) {
  const order: ServerKind[] = rep % 2 === 0 ? ['walnut', 'reference'] : ['reference', 'walnut'];
  for (const kind of order) {
    const before = load();
    const run = await measure(kind);
    runs[kind].push(run);
    console.log(
      `rep ${rep} ${kind.padEnd(9)} ${run.appendsPerSec.toFixed(0).padStart(7)} appends/s  p50 ${run.p50.toFixed(1)} ms  p99 ${run.p99.toFixed(1)} ms  (load ${before} → ${load()})`,
    );
  }
}
const summary = (kind: ServerKind) => ({
  appendsPerSec: median(runs[kind].map((r) => r.appendsPerSec)),
  p99: median(runs[kind].map((r) => r.p99)),
});
const walnut = summary('walnut');
const reference = summary('reference');
console.log(
  `median walnut ${walnut.appendsPerSec.toFixed(0)} appends/s p99 ${walnut.p99.toFixed(1)} ms; reference ${reference.appendsPerSec.toFixed(0)} appends/s p99 ${reference.p99.toFixed(1)} ms`,
);
console.log(
  `ratio walnut/reference: ${(walnut.appendsPerSec / reference.appendsPerSec).toFixed(2)}× appends/s (goal ≥ 5×), p99 ${(walnut.p99 / reference.p99).toFixed(2)}× (below 1: walnut's is shorter)`,
);
