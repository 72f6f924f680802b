/**
 * `pnpm bench:bound [--reps N] [--records N] [--dir PATH]`: where one durable append's time
 * goes below JavaScript (issue #63). Runs every variant of native/uring-bound.c in W2's shape
 * (one record a round) and W3's (64), interleaved over N repetitions, and prints per variant
 * the median over repetitions of: records/s, the records' p50 and p99, and the pieces of a
 * round's p50 (submit, wait for the wake-up, reap) with how many rounds the kernel finished
 * inside the submitting call. The rows differ in one thing each, so their differences name
 * the pieces: pwrite-dsync is the device and the file system on the calling thread;
 * dsync-punt adds io-wq and the eventfd/epoll wake-up (Walnut's path); punt-enter waits in
 * io_uring_enter instead of epoll; punt-spin never sleeps. What JavaScript adds on top is
 * the main bench's `ring-rounds` and Walnut rows against `c-bound` in one run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { BOUND_VARIANTS, type BoundResult, buildBound, runBound } from './contenders/c-bound.js';
import { machineInfo } from './machine.js';
import { alignedTable } from './report/table.js';
import { median } from './stats.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    reps: { type: 'string', default: '5' },
    records: { type: 'string', default: '2000' },
    dir: { type: 'string' },
  },
});
const reps = Number(values.reps);
const records = Number(values.records);
if (!Number.isInteger(reps) || reps < 1 || !Number.isInteger(records) || records < 64) {
  console.error('bench:bound: --reps must be ≥ 1 and --records ≥ 64');
  process.exit(2);
}

const binary = buildBound();
const dir = mkdtempSync(join(values.dir ?? os.tmpdir(), 'walnut-bound-'));
const shapes = [
  { name: 'W2', producers: 1, records },
  { name: 'W3', producers: 64, records: records * 25 },
] as const;
const machine = machineInfo(dir);
const results = new Map<string, BoundResult[]>();
try {
  for (let rep = 1; rep <= reps; rep++) {
    for (const shape of shapes) {
      for (const variant of BOUND_VARIANTS) {
        const file = join(dir, `${variant}.bin`);
        const result = await runBound(binary, file, variant, shape.records, 128, shape.producers);
        rmSync(file, { force: true });
        const key = `${shape.name} ${variant}`;
        results.set(key, [...(results.get(key) ?? []), result]);
      }
    }
    process.stderr.write(`bench:bound: repetition ${rep} of ${reps} done\n`);
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const micros = (n: number) => `${n.toFixed(n < 10 ? 1 : 0)} µs`;
const rows = [...results].map(([key, runs]) => {
  const mid = (pick: (r: BoundResult) => number) => median(runs.map(pick));
  const inline = mid((r) => r.doneInline / r.rounds);
  return [
    key,
    `${(mid((r) => r.recordsPerSec) / 1000).toFixed(1)} k/s`,
    micros(mid((r) => r.p50Us)),
    micros(mid((r) => r.p99Us)),
    micros(mid((r) => r.submitP50Us)),
    micros(mid((r) => r.waitP50Us)),
    micros(mid((r) => r.reapP50Us)),
    `${(inline * 100).toFixed(0)} %`,
  ];
});
console.log(
  `bench:bound — ${reps} repetitions, 128 B records, ${os.loadavg()[0]!.toFixed(1)} load at the end; ${machine.cores}× ${machine.cpuModel}, ${machine.kernel}, ${machine.fileSystem} on ${machine.device}\n`,
);
console.log(
  alignedTable(
    [
      { title: 'shape variant', align: 'left' },
      { title: 'records/s', align: 'right' },
      { title: 'p50', align: 'right' },
      { title: 'p99', align: 'right' },
      { title: 'submit p50', align: 'right' },
      { title: 'wait p50', align: 'right' },
      { title: 'reap p50', align: 'right' },
      { title: 'done inline', align: 'right' },
    ],
    rows,
  ),
);
