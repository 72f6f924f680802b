// A quick W1/W3 check of @walnut/wal against a simple node:fs log measured in the same run.
// The full benchmark suite is the repo's bench/ package; this is for a fast look while
// working on the Wal. Uses the BUILT package: run `npx -y pnpm@10.34.9 run build` first.
//
//   node bench/quick.mjs [--w3-records 50000] [--w1-records 1000000] [--backend auto] [--rounds 3]
//
// Each workload runs `rounds` times, alternating node:fs and Walnut so that both see the
// same machine; the run with the median throughput of each is reported.
import * as fs from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { crc32c } from '@walnut/codec';
import { Wal } from '@walnut/wal';

const { values } = parseArgs({
  options: {
    'w3-records': { type: 'string', default: '50000' },
    'w1-records': { type: 'string', default: '1000000' },
    producers: { type: 'string', default: '64' },
    backend: { type: 'string', default: 'auto' },
    dir: { type: 'string', default: tmpdir() },
    rounds: { type: 'string', default: '3' },
  },
});
const W3_RECORDS = Number(values['w3-records']);
const W1_RECORDS = Number(values['w1-records']);
const PRODUCERS = Number(values.producers);
const BACKEND = values.backend;
const ROUNDS = Number(values.rounds);
const PAYLOAD = Buffer.alloc(128, 7);

function percentile(sorted, fraction) {
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)];
}

/** The floor: frames ([len][crc32c][payload]) in a 1 MiB buffer, writeSync + fdatasyncSync. */
class FloorLog {
  constructor(dir) {
    this.fd = fs.openSync(join(dir, 'floor.log'), 'w');
    this.buffer = Buffer.allocUnsafeSlow(1 << 20);
    this.used = 0;
    this.position = 0;
    this.pending = [];
    this.scheduled = false;
    this.syncs = 0;
  }
  frame(payload) {
    if (this.used + 8 + payload.length > this.buffer.length) this.writeOut();
    this.buffer.writeUInt32LE(payload.length, this.used);
    this.buffer.writeUInt32LE(crc32c(payload), this.used + 4);
    this.buffer.set(payload, this.used + 8);
    this.used += 8 + payload.length;
  }
  writeOut() {
    let done = 0;
    while (done < this.used)
      done += fs.writeSync(this.fd, this.buffer, done, this.used - done, this.position + done);
    this.position += this.used;
    this.used = 0;
  }
  sync() {
    this.writeOut();
    fs.fdatasyncSync(this.fd);
    this.syncs++;
  }
  /** Simple group commit: whatever is pending when the event loop comes round shares one fdatasync. */
  appendDurable(payload) {
    return new Promise((resolve) => {
      this.pending.push({ payload, resolve });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          const batch = this.pending;
          this.pending = [];
          this.scheduled = false;
          for (const item of batch) this.frame(item.payload);
          this.sync();
          for (const item of batch) item.resolve();
        });
      }
    });
  }
  close() {
    fs.closeSync(this.fd);
  }
}

async function producers(appendDurable) {
  const latencies = new Float64Array(W3_RECORDS);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: PRODUCERS }, async () => {
      while (next < W3_RECORDS) {
        const i = next++;
        const t0 = performance.now();
        await appendDurable(PAYLOAD);
        latencies[i] = performance.now() - t0;
      }
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  const sorted = Array.from(latencies).sort((a, b) => a - b);
  return {
    perSecond: W3_RECORDS / seconds,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
}

async function w3Floor(dir) {
  const log = new FloorLog(dir);
  const result = await producers((p) => log.appendDurable(p));
  log.close();
  return { ...result, syncs: log.syncs };
}

async function w3Walnut(dir) {
  const wal = await Wal.open(dir).durability('sync').storageIo(BACKEND).build();
  const result = await producers((p) => wal.append(p));
  const stats = wal.stats();
  await wal.shutdown(10_000);
  return { ...result, syncs: stats.syncs, backend: stats.backend.name };
}

async function w1Floor(dir) {
  const log = new FloorLog(dir);
  const start = performance.now();
  for (let i = 0; i < W1_RECORDS; i++) log.frame(PAYLOAD);
  log.sync();
  const seconds = (performance.now() - start) / 1000;
  log.close();
  return { perSecond: W1_RECORDS / seconds };
}

async function w1Walnut(dir) {
  const wal = await Wal.open(dir).durability('none').storageIo(BACKEND).build();
  const start = performance.now();
  for (let i = 0; i < W1_RECORDS; i++) await wal.append(PAYLOAD);
  await wal.sync();
  const seconds = (performance.now() - start) / 1000;
  await wal.shutdown(10_000);
  return { perSecond: W1_RECORDS / seconds };
}

async function inFreshDir(fn) {
  const dir = mkdtempSync(join(values.dir, 'walnut-bench-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function alternate(floorRun, walnutRun) {
  const floors = [];
  const walnuts = [];
  for (let round = 0; round < ROUNDS; round++) {
    floors.push(await inFreshDir(floorRun));
    walnuts.push(await inFreshDir(walnutRun));
  }
  const median = (runs) =>
    runs.sort((a, b) => a.perSecond - b.perSecond)[Math.floor(runs.length / 2)];
  return [median(floors), median(walnuts)];
}

const [w3f, w3w] = await alternate(w3Floor, w3Walnut);
console.log(
  `W3 ${PRODUCERS} producers × ${W3_RECORDS} × 128 B, durability sync (backend ${w3w.backend}), median of ${ROUNDS}`,
);
console.log(
  `  node:fs group commit  ${fmt(w3f.perSecond)} rec/s  p50 ${w3f.p50.toFixed(3)} ms  p99 ${w3f.p99.toFixed(3)} ms  syncs ${w3f.syncs}`,
);
console.log(
  `  @walnut/wal           ${fmt(w3w.perSecond)} rec/s  p50 ${w3w.p50.toFixed(3)} ms  p99 ${w3w.p99.toFixed(3)} ms  syncs ${w3w.syncs}`,
);
console.log(`  ratio ${(w3w.perSecond / w3f.perSecond).toFixed(2)}× (target ≥ 2.0×, p99 ≤ 1 ms)`);

const [w1f, w1w] = await alternate(w1Floor, w1Walnut);
console.log(
  `W1 ${W1_RECORDS} × 128 B, one producer, durability none + one sync, median of ${ROUNDS}`,
);
console.log(`  node:fs floor         ${fmt(w1f.perSecond)} rec/s`);
console.log(`  @walnut/wal           ${fmt(w1w.perSecond)} rec/s`);
console.log(`  ratio ${(w1w.perSecond / w1f.perSecond).toFixed(2)}× (target ≥ 1.5×)`);
