/**
 * Compression off against zstd on, in one run (issue #62): size on disk, W1-style bulk
 * appends (appendMany in lists of 1,024, durability 'none', one sync inside the clock) and
 * W4-style warm replay, on the JSON corpus and on random payloads of the same mean size.
 * Prints ratios (zstd / off); the modes alternate within each repetition so a load that
 * changes over the run hits both alike. Ratios from a machine shared with other work say
 * little about timings: the size ratio is the one that does not depend on the machine.
 * Needs Node 22.15 or later (writing zstd). `node dist/compression-compare.js [records] [reps]`
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zstdImplementation } from '@walnut/codec';
import { Wal } from '@walnut/wal';
import { jsonEvents } from './json-corpus.js';
import { PayloadSet } from './payloads.js';

type Mode = 'off' | 'zstd';
interface Run {
  bytes: number;
  appendRate: number;
  replayRate: number;
}

const LIST = 1024;

async function run(payloads: readonly Buffer[], mode: Mode, root: string): Promise<Run> {
  const dir = mkdtempSync(join(root, `${mode}-`));
  try {
    const builder = Wal.open(dir).durability('none');
    const wal = await (mode === 'zstd' ? builder.compression('zstd') : builder);
    const t0 = performance.now();
    for (let i = 0; i < payloads.length; i += LIST)
      await wal.appendMany(payloads.slice(i, i + LIST));
    await wal.sync();
    const appendMs = performance.now() - t0;
    const bytes = (await wal.segments()).reduce((n, s) => n + s.writtenBytes, 0);
    await wal.close();
    const reader = await Wal.open(dir).readOnly();
    let seen = 0;
    const t1 = performance.now();
    await reader.replay(1n, () => {
      seen++;
    });
    const replayMs = performance.now() - t1;
    await reader.close();
    if (seen !== payloads.length) throw new Error(`replayed ${seen} of ${payloads.length}`);
    return {
      bytes,
      appendRate: payloads.length / (appendMs / 1000),
      replayRate: payloads.length / (replayMs / 1000),
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
  console.log(`  W1 records/s      zstd/off ${ratio((x) => x.appendRate).toFixed(3)}`);
  console.log(`  W4 replay (warm)  zstd/off ${ratio((x) => x.replayRate).toFixed(3)}`);
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
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
