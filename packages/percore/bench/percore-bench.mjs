// Benchmarks of @walnut/percore (run `pnpm run build` first; `pnpm --filter @walnut/percore bench`):
//   1. aggregate append throughput with 1 and 2 worker threads, each owning its own core file
//      (128-byte values, fdatasync every 1,000 entries; target 2/1 ≥ 1.6x), and the same with
//      one fdatasync at the end, to separate the write path from the file system journal;
//   2. recovery time of 1,000,000 entries across 2 cores (open = validate + cut, recover =
//      read + decode + merge).
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageChannel, Worker } from 'node:worker_threads';
import { PerCoreWalManager } from '@walnut/percore';
import { SyncFsStorageIo } from '@walnut/storage-io';

const ENTRIES_PER_WORKER = Number(process.env.PERCORE_BENCH_ENTRIES ?? 300_000);
const RECOVERY_ENTRIES = Number(process.env.PERCORE_BENCH_RECOVERY ?? 1_000_000);
const RUNS = Number(process.env.PERCORE_BENCH_RUNS ?? 3);
const VALUE_SIZE = 128;
const SYNC_EVERY = 1_000;
const WORKER = new URL('./bench-worker.mjs', import.meta.url);

async function throughput(workers, syncEvery = SYNC_EVERY) {
  const dir = mkdtempSync(join(tmpdir(), 'percore-bench-'));
  const io = new SyncFsStorageIo();
  const manager = await PerCoreWalManager.create({ baseDir: dir, numCores: workers, io });
  const ports = [];
  const ready = [];
  const done = [];
  for (let coreId = 0; coreId < workers; coreId++) {
    const { port1, port2 } = new MessageChannel();
    const handoff = await manager.handOff(coreId, port1);
    new Worker(WORKER, {
      workerData: {
        handoff,
        port: port2,
        entries: ENTRIES_PER_WORKER,
        syncEvery,
        valueSize: VALUE_SIZE,
      },
      transferList: [port2],
    });
    ports.push(port1);
    ready.push(waitFor(port1, 'bench:ready'));
    done.push(waitFor(port1, 'bench:done'));
  }
  await Promise.all(ready);
  const start = process.hrtime.bigint();
  for (const port of ports) port.postMessage({ type: 'bench:go' });
  await Promise.all(done);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await manager.close();
  for (const port of ports) port.close();
  rmSync(dir, { recursive: true, force: true });
  return (workers * ENTRIES_PER_WORKER) / seconds;
}

function waitFor(port, type) {
  return new Promise((resolve) => {
    const listener = (message) => {
      if (message?.type !== type) return;
      port.off('message', listener);
      resolve(message);
    };
    port.on('message', listener);
  });
}

async function recovery() {
  const dir = mkdtempSync(join(tmpdir(), 'percore-bench-recovery-'));
  const io = new SyncFsStorageIo();
  const manager = await PerCoreWalManager.create({ baseDir: dir, numCores: 2, io });
  const key = Buffer.alloc(16);
  const value = Buffer.alloc(VALUE_SIZE, 0x5a);
  for (let i = 0; i < RECOVERY_ENTRIES; i++) {
    const writer = manager.writer(i % 2);
    key.writeUInt32LE(i, 0);
    writer.appendPut(key, value);
    if ((i + 1) % (2 * SYNC_EVERY) === 0)
      await Promise.all([manager.writer(0).sync(), manager.writer(1).sync()]);
  }
  await manager.close();
  // Each measurement in its own function, so the other's million entries are garbage by then.
  const onePassMs = await timeOnePass(dir, io);
  const { openMs, recoverMs } = await timeOpenThenRecover(dir, io);
  rmSync(dir, { recursive: true, force: true });
  return { openMs, recoverMs, onePassMs };
}

async function timeOpenThenRecover(dir, io) {
  const t0 = process.hrtime.bigint();
  const manager = await PerCoreWalManager.open({ baseDir: dir, numCores: 2, io });
  const t1 = process.hrtime.bigint();
  const { entries } = await manager.recover();
  const t2 = process.hrtime.bigint();
  if (entries.length !== RECOVERY_ENTRIES) throw new Error(`recovered ${entries.length} entries`);
  await manager.close();
  return { openMs: Number(t1 - t0) / 1e6, recoverMs: Number(t2 - t1) / 1e6 };
}

async function timeOnePass(dir, io) {
  const t0 = process.hrtime.bigint();
  const { manager, recovery } = await PerCoreWalManager.openAndRecover({
    baseDir: dir,
    numCores: 2,
    io,
  });
  const t1 = process.hrtime.bigint();
  if (recovery.entries.length !== RECOVERY_ENTRIES) throw new Error('openAndRecover lost entries');
  await manager.close();
  return Number(t1 - t0) / 1e6;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

console.log(
  `@walnut/percore bench — node ${process.version}, ${cpus().length} CPUs, ${ENTRIES_PER_WORKER.toLocaleString('en-US')} entries per worker, ${VALUE_SIZE} B values, sync every ${SYNC_EVERY}, median of ${RUNS}`,
);
if (process.env.PERCORE_BENCH_SKIP_THROUGHPUT !== '1') {
  const one = [];
  const two = [];
  const oneNoSync = [];
  const twoNoSync = [];
  for (let run = 0; run < RUNS; run++) {
    // Alternate so that background load hits both configurations alike.
    one.push(await throughput(1));
    two.push(await throughput(2));
    oneNoSync.push(await throughput(1, 0));
    twoNoSync.push(await throughput(2, 0));
  }
  const report = (label, a, b) => {
    console.log(
      `${label} 1 worker : ${fmt(median(a))} entries/s   (runs: ${a.map(fmt).join(', ')})`,
    );
    console.log(
      `${label} 2 workers: ${fmt(median(b))} entries/s   (runs: ${b.map(fmt).join(', ')})`,
    );
    // Runs alternate 1 and 2 workers, so each pair saw similar background load.
    const paired = a.map((x, i) => b[i] / x);
    console.log(
      `${label} scaling 2/1: ${(median(b) / median(a)).toFixed(2)}x of medians, ${median(paired).toFixed(2)}x median of paired runs (${paired.map((r) => r.toFixed(2)).join(', ')})`,
    );
  };
  report('[fdatasync every 1,000]', one, two);
  report('[one fdatasync at the end]', oneNoSync, twoNoSync);
}

const rec = await recovery();
console.log(
  `recovery of ${RECOVERY_ENTRIES.toLocaleString('en-US')} entries across 2 cores: open (validate + cut) ${rec.openMs.toFixed(0)} ms + recover() (read + decode + merge) ${rec.recoverMs.toFixed(0)} ms = ${(rec.openMs + rec.recoverMs).toFixed(0)} ms; openAndRecover (one pass) ${rec.onePassMs.toFixed(0)} ms = ${fmt(RECOVERY_ENTRIES / (rec.onePassMs / 1000))} entries/s`,
);
