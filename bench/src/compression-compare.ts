/**
 * Compression off against zstd on, in one run (issue #62): size on disk, W1-style bulk
 * appends (appendMany in lists of 1,024, durability 'none', one sync inside the clock),
 * W4-style replay warm and cold (open and replay after the page cache was dropped: root
 * only), on the JSON corpus and on random payloads of the same mean size, and replication
 * bytes per record on the JSON corpus (when nats-server is on PATH). Prints ratios
 * (zstd / off); the modes alternate within each repetition so a load that changes over the
 * run hits both alike. Ratios from a machine shared with other work say little about
 * timings: the size ratio is the one that does not depend on the machine. Beside the cold
 * ratio it prints the rate at which a plain read of the uncompressed log's files comes off
 * this disk, cold: where cold replay without compression runs near it, the disk is the bound.
 * Needs Node 22.15 or later (writing zstd). `node dist/compression-compare.js [records] [reps]`
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdImplementation } from '@walnut/codec';
import { Wal } from '@walnut/wal';
import { replicationBytes } from './compression-replication.js';
import { jsonEvents } from './json-corpus.js';
import { PayloadSet } from './payloads.js';

type Mode = 'off' | 'zstd';
interface Run {
  bytes: number;
  appendRate: number;
  replayRate: number;
  /** Records per CPU second of this process (appending, warm replay): less hit by load. */
  appendCpuRate: number;
  replayCpuRate: number;
  /** Records/s of open + replay after the page cache was dropped; NaN when not root. */
  coldRate: number;
  /** MB/s of a plain cold read of the log's files; NaN when not root. */
  diskMBps: number;
}

const isRoot = process.getuid?.() === 0;

/** Drops the page cache (clean pages only: what a cold start finds on disk). */
function dropPageCache(): void {
  execFileSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '1');
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1000;
}

async function replay(dir: string): Promise<number> {
  const reader = await Wal.open(dir).readOnly();
  let seen = 0;
  await reader.replay(1n, () => {
    seen++;
  });
  await reader.close();
  return seen;
}

/** MB/s at which the log's segment files come off the disk, cold, read whole one by one. */
function coldReadMBps(dir: string): number {
  dropPageCache();
  const t0 = performance.now();
  let bytes = 0;
  for (const name of readdirSync(dir))
    if (name.endsWith('.wal')) bytes += readFileSync(join(dir, name)).length;
  return bytes / 1e6 / ((performance.now() - t0) / 1000);
}

const LIST = 1024;

async function run(payloads: readonly Buffer[], mode: Mode, root: string): Promise<Run> {
  const dir = mkdtempSync(join(root, `${mode}-`));
  try {
    const builder = Wal.open(dir).durability('none');
    const wal = await (mode === 'zstd' ? builder.compression('zstd') : builder);
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let i = 0; i < payloads.length; i += LIST)
      await wal.appendMany(payloads.slice(i, i + LIST));
    await wal.sync();
    const appendMs = performance.now() - t0;
    const appendCpuMs = cpuMs(c0);
    const bytes = (await wal.segments()).reduce((n, s) => n + s.writtenBytes, 0);
    await wal.close();
    await replay(dir); // warms the cache for the timed warm replay
    const c1 = process.cpuUsage();
    const t1 = performance.now();
    const seen = await replay(dir);
    const replayMs = performance.now() - t1;
    const replayCpuMs = cpuMs(c1);
    if (seen !== payloads.length) throw new Error(`replayed ${seen} of ${payloads.length}`);
    let coldRate = Number.NaN;
    if (isRoot) {
      dropPageCache();
      const t2 = performance.now();
      await replay(dir);
      coldRate = payloads.length / ((performance.now() - t2) / 1000);
    }
    return {
      bytes,
      appendRate: payloads.length / (appendMs / 1000),
      replayRate: payloads.length / (replayMs / 1000),
      appendCpuRate: payloads.length / (appendCpuMs / 1000),
      replayCpuRate: payloads.length / (replayCpuMs / 1000),
      coldRate,
      diskMBps: isRoot && mode === 'off' ? coldReadMBps(dir) : Number.NaN,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function compare(name: string, payloads: readonly Buffer[], reps: number, root: string) {
  const runs: Record<Mode, Run[]> = { off: [], zstd: [] };
  for (let r = 0; r < reps; r++) {
    const order: Mode[] = r % 2 === 0 ? ['off', 'zstd'] : ['zstd', 'off'];
    for (const mode of order) runs[mode].push(await run(payloads, mode, root));
  }
  const ratio = (f: (x: Run) => number) => median(runs.zstd.map(f)) / median(runs.off.map(f));
  const plain = payloads.reduce((n, p) => n + p.length, 0);
  console.log(
    `${name}: ${payloads.length} records, ${(plain / payloads.length).toFixed(0)} B mean payload`,
  );
  console.log(`  size on disk      zstd/off ${ratio((x) => x.bytes).toFixed(3)}`);
  const cpu = (f: (x: Run) => number) => `(per CPU second ${ratio(f).toFixed(3)})`;
  console.log(
    `  W1 records/s      zstd/off ${ratio((x) => x.appendRate).toFixed(3)} ${cpu((x) => x.appendCpuRate)}`,
  );
  console.log(
    `  W4 replay (warm)  zstd/off ${ratio((x) => x.replayRate).toFixed(3)} ${cpu((x) => x.replayCpuRate)}`,
  );
  if (!isRoot) {
    console.log('  W4 replay (cold)  skipped: dropping the page cache needs root');
    return;
  }
  console.log(`  W4 replay (cold)  zstd/off ${ratio((x) => x.coldRate).toFixed(3)}`);
  const off = median(runs.off.map((x) => x.bytes));
  const offCold = off / 1e6 / (payloads.length / median(runs.off.map((x) => x.coldRate)));
  const disk = median(runs.off.map((x) => x.diskMBps));
  console.log(
    `  cold, off: replay takes ${offCold.toFixed(0)} MB/s of log, a plain cold read ${disk.toFixed(0)} MB/s`,
  );
}

async function main(): Promise<void> {
  if (zstdImplementation().encoder === null)
    throw new Error(`writing zstd needs Node 22.15 or later; this is ${process.versions.node}`);
  const count = Number(process.argv[2] ?? 100_000);
  const reps = Number(process.argv[3] ?? 3);
  const root = mkdtempSync(join(tmpdir(), 'walnut-compression-'));
  try {
    const json = jsonEvents(count, 0x5eed_0001);
    const mean = Math.round(json.reduce((n, p) => n + p.length, 0) / json.length);
    const set = new PayloadSet(count, mean, 0x5eed_0001);
    const random = Array.from({ length: count }, (_, i) => set.get(i));
    console.log(`node ${process.versions.node}, ${reps} repetitions, median of each; ratios only`);
    await compare('JSON events', json, reps, root);
    await compare('random payloads', random, reps, root);
    const nats = spawnSync('nats-server', ['--version']);
    if (nats.status !== 0) {
      console.log('replication: skipped (no nats-server on PATH)');
      return;
    }
    const shipped = json.slice(0, Math.min(count, 20_000));
    const perRecord = await replicationBytes(shipped, reps, root);
    console.log(
      `replication, JSON events (${shipped.length}, 64 producers, async): NATS payload bytes/record off ${perRecord.off.toFixed(1)}, zstd ${perRecord.zstd.toFixed(1)}, zstd/off ${(perRecord.zstd / perRecord.off).toFixed(3)}`,
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
