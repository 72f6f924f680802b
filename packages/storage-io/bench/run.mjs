// Storage-io benchmark: io_uring against sync-fs and fs.promises (the libuv thread
// pool), measured in the same run. Each case runs RUNS times per contender,
// interleaved; the table shows medians and the ratio of medians.
//   pnpm --filter @walnut/storage-io bench        (builds dist first)
//   BENCH_RUNS=7 BENCH_DIR=/some/ext4/dir pnpm --filter @walnut/storage-io bench
import * as fs from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { IoUringStorageIo, ioUringAvailability, SyncFsStorageIo } from '../dist/index.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const dir = fs.mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'walnut-storage-io-bench-'));
const KiB = 1024;
const MiB = 1024 * KiB;

const availability = ioUringAvailability();
if (!availability.available) {
  console.error(`io_uring is unavailable, nothing to compare: ${availability.reason}`);
  process.exit(1);
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function freshFile(name) {
  const path = join(dir, name);
  fs.rmSync(path, { force: true });
  return path;
}

/**
 * Serial 4 KiB appends through a StorageIo, each durable before the next: a write with a
 * linked fdatasync, or (`dsync`) one write that is durable when it completes.
 */
async function serialAppendStorageIo(io, ops, { dsync = false } = {}) {
  const path = freshFile(`serial-${io.name}${dsync ? '-dsync' : ''}`);
  const fd = await io.open(path, { create: true, truncate: true });
  const block = Buffer.alloc(4 * KiB, 7);
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    if (dsync) {
      const w = await io.completion(io.submitWrite(fd, block, i * block.length, { dsync }));
      if (w.result !== block.length) throw new Error('append failed');
      continue;
    }
    const write = io.submitWrite(fd, block, i * block.length);
    const sync = io.submitDatasync(fd, { linkToPrevious: true });
    const [w, s] = await Promise.all([io.completion(write), io.completion(sync)]);
    if (w.result !== block.length || s.result !== 0) throw new Error('append failed');
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await io.close(fd);
  return ops / seconds;
}

async function serialAppendPromises(ops) {
  const handle = await fs.promises.open(freshFile('serial-promises'), 'w+');
  const block = Buffer.alloc(4 * KiB, 7);
  const start = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    await handle.write(block, 0, block.length, i * block.length);
    await handle.datasync();
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await handle.close();
  return ops / seconds;
}

/** `total` writes of `size` bytes with `depth` in flight, cycling over a 64 MiB region. */
async function queueDepthStorageIo(io, size, depth, total) {
  const fd = await io.open(freshFile(`qd-${io.name}`), { create: true, truncate: true });
  const block = Buffer.alloc(size, 3);
  const slots = (64 * MiB) / size;
  let submitted = 0;
  let done = 0;
  const start = process.hrtime.bigint();
  while (submitted < depth && submitted < total) {
    io.submitWrite(fd, block, (submitted++ % slots) * size);
  }
  while (done < total) {
    const completions = await io.waitCompletions(1);
    for (const completion of completions) {
      if (completion.result !== size) throw new Error(`write failed: ${completion.result}`);
    }
    done += completions.length;
    while (submitted < total && submitted - done < depth) {
      io.submitWrite(fd, block, (submitted++ % slots) * size);
    }
  }
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await io.close(fd);
  return total / seconds;
}

async function queueDepthPromises(size, depth, total) {
  const handle = await fs.promises.open(freshFile('qd-promises'), 'w+');
  const block = Buffer.alloc(size, 3);
  const slots = (64 * MiB) / size;
  let next = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: depth }, async () => {
      while (next < total) {
        const i = next++;
        const { bytesWritten } = await handle.write(block, 0, size, (i % slots) * size);
        if (bytesWritten !== size) throw new Error('short write');
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await handle.close();
  return total / seconds;
}

async function measure(contenders) {
  const samples = new Map(contenders.map(([name]) => [name, []]));
  for (let run = 0; run < RUNS; run++) {
    for (const [name, fn] of contenders) samples.get(name).push(await fn());
  }
  return new Map([...samples].map(([name, values]) => [name, { median: median(values), values }]));
}

function fmt(n) {
  return n >= 100 ? Math.round(n).toLocaleString('en-US') : n.toFixed(1);
}

const ring = IoUringStorageIo.create({ entries: 256 });
const syncFs = new SyncFsStorageIo();
const rows = [];

function report(title, results, baseline) {
  const base = results.get(baseline).median;
  for (const [name, { median: m, values }] of results) {
    const ratio = m / base;
    rows.push({ case: title, contender: name, median: m, ratio, baseline, values });
    console.log(
      `${title.padEnd(34)} ${name.padEnd(25)} ${fmt(m).padStart(10)} ops/s  ${ratio.toFixed(2)}× ${baseline}   runs: ${values.map(fmt).join(', ')}`,
    );
  }
}

console.log(
  `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), Linux ${release()}, Node ${process.version}, dir ${dir}, ${RUNS} runs per contender`,
);

const serialOps = Number(process.env.BENCH_SERIAL_OPS ?? 500);
report(
  'serial 4 KiB append + fdatasync',
  await measure([
    ['sync-fs', () => serialAppendStorageIo(syncFs, serialOps)],
    ['io_uring', () => serialAppendStorageIo(ring, serialOps)],
    ['io_uring, one dsync write', () => serialAppendStorageIo(ring, serialOps, { dsync: true })],
    ['fs.promises', () => serialAppendPromises(serialOps)],
  ]),
  'sync-fs',
);

report(
  '4 KiB writes, queue depth 32',
  await measure([
    ['fs.promises', () => queueDepthPromises(4 * KiB, 32, 20_000)],
    ['io_uring', () => queueDepthStorageIo(ring, 4 * KiB, 32, 20_000)],
  ]),
  'fs.promises',
);

report(
  '64 KiB writes, queue depth 8',
  await measure([
    ['fs.promises', () => queueDepthPromises(64 * KiB, 8, 4_000)],
    ['io_uring', () => queueDepthStorageIo(ring, 64 * KiB, 8, 4_000)],
  ]),
  'fs.promises',
);

await ring.closeIo();
await syncFs.closeIo();
fs.rmSync(dir, { recursive: true, force: true });

if (process.env.BENCH_JSON) fs.writeFileSync(process.env.BENCH_JSON, JSON.stringify(rows, null, 2));
