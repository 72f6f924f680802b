/**
 * W7, cursor commits beside group commit (`pnpm --filter @walnut/bench bench:cursors`):
 * W3's 64 producers (each awaiting the durability of its 128-byte record) alone, beside 4
 * tails without cursors, and beside 4 consumers that read through their own durable
 * cursors and commit after every record — awaiting each commit, or awaiting every 1,024th.
 * Per mode it prints the medians over the repetitions of the producers' records/s (and its
 * ratio to W3 alone in the same repetition), the consumers' commits/s, the syncs per cursor
 * write round, and how far (in records) the slowest cursor was behind the last record, at
 * the producers' end and at worst while they ran. Then the cost of one commit round of 4
 * cursors on their own: the in-place slot write and fdatasync Walnut does, against the
 * temporary file, fsync, rename and directory fsync that cursors cost before (decision
 * 0632). Walnut only (the floor and the peers have no cursors); modes alternate within each
 * repetition (each repetition starting with the next mode) so that all see the same
 * minutes of a shared disk.
 * Options: --records N (default 50,000), --reps N (default 3), --rounds N (default 300; 0
 * skips the commit rounds), --modes reading,awaited,pipelined (which to run beside `alone`),
 * --dir PATH.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createStorageIo } from '@walnut/storage-io';
import { Wal } from '@walnut/wal';
import { PayloadSet } from './payloads.js';
import { WORKLOAD_SEEDS } from './workloads.js';

const PRODUCERS = 64;
const CONSUMERS = 4;
const PIPELINE_AWAIT_EVERY = 1024;
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '50000' },
    reps: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '300' },
    modes: { type: 'string', default: 'alone,reading,awaited,pipelined' },
    dir: { type: 'string' },
  },
});
const records = Number(values.records);
const reps = Number(values.reps);
const roundsTimed = Number(values.rounds);
const payloads = new PayloadSet(records, 128, WORKLOAD_SEEDS.W3);

const ALL_MODES = ['alone', 'reading', 'awaited', 'pipelined'] as const;
type Mode = (typeof ALL_MODES)[number];
/** `--modes`: which to run; `alone` always runs, as every ratio's baseline. */
const MODES: readonly Mode[] = ALL_MODES.filter(
  (mode) => mode === 'alone' || values.modes.split(',').includes(mode),
);
for (const mode of values.modes.split(',')) {
  if (!(ALL_MODES as readonly string[]).includes(mode)) {
    console.error(`--modes: unknown mode ${mode}; the modes are ${ALL_MODES.join(', ')}`);
    process.exit(2);
  }
}

interface Run {
  producerRate: number;
  /** Commits per second, all consumers together, while the producers ran. */
  commitRate: number;
  /** Records the slowest cursor was behind the last record when the producers finished. */
  lagAtEnd: bigint;
  /** The most it was behind while they ran (sampled every 5 ms). */
  lagMax: bigint;
  /** File syncs per cursor write round: one fdatasync per cursor file written in place. */
  syncsPerRound: number;
  commitsPerFile: number;
  /** The process's CPU time (user + system) while the producers ran, in µs per record appended. */
  cpuPerRecord: number;
}

const fresh = () => mkdtempSync(join(values.dir ?? tmpdir(), 'walnut-bench-cursors-'));

/**
 * `reading`: the consumers follow the log (`tail`) without cursors, to tell the cost of
 * reading from the cost of committing. `awaited`: each consumer awaits every commit before
 * reading on (the README's loop): one record per commit round. `pipelined`: each consumer
 * commits after every record without waiting, and awaits every 1,024th: commits arriving
 * during a round share the next. A consumer that stopped between its last durable commit
 * and a crash reads those records again either way (at least once).
 */
async function run(mode: Mode): Promise<Run> {
  const dir = fresh();
  const wal = await Wal.open(dir).build();
  try {
    const cursors =
      mode === 'alone' || mode === 'reading'
        ? []
        : await Promise.all(
            Array.from({ length: CONSUMERS }, (_, i) => wal.cursor(`consumer-${i}`)),
          );
    const base = wal.stats().cursorCommits;
    const stop = new AbortController();
    let commits = 0;
    const consuming = cursors.map(async (cursor) => {
      let last: Promise<bigint> = Promise.resolve(0n);
      for await (const record of cursor.records({ signal: stop.signal })) {
        last = cursor.commit(record.lsn);
        commits++;
        if (mode === 'awaited' || commits % PIPELINE_AWAIT_EVERY === 0) await last;
        if (record.lsn === BigInt(records)) break;
      }
      await last;
    });
    const readers =
      mode === 'reading'
        ? Array.from({ length: CONSUMERS }, async () => {
            for await (const record of wal.tail(1n, { signal: stop.signal })) {
              if (record.lsn === BigInt(records)) break;
            }
          })
        : [];
    const lagNow = () => {
      let lag = 0n;
      for (const cursor of cursors) {
        if (wal.lastLsn - cursor.lsn > lag) lag = wal.lastLsn - cursor.lsn;
      }
      return lag;
    };
    let lagMax = 0n;
    const sampler = setInterval(() => {
      const lag = lagNow();
      if (lag > lagMax) lagMax = lag;
    }, 5);
    let next = 0;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        for (let i = next++; i < records; i = next++) await wal.append(payloads.get(i));
      }),
    );
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    const commitsDuring = commits;
    const lagAtEnd = lagNow();
    if (lagAtEnd > lagMax) lagMax = lagAtEnd;
    const during = wal.stats().cursorCommits;
    // Awaited consumers are far behind by design: stop them rather than wait minutes.
    if (mode === 'awaited') stop.abort();
    await Promise.all([...consuming, ...readers]);
    stop.abort();
    const rounds = during.rounds - base.rounds;
    const files = during.filesWritten - base.filesWritten;
    return {
      producerRate: records / ((t1 - t0) / 1000),
      commitRate: commitsDuring / ((t1 - t0) / 1000),
      lagAtEnd,
      lagMax,
      syncsPerRound: rounds === 0 ? 0 : files / rounds,
      commitsPerFile: files === 0 ? 0 : commitsDuring / files,
      cpuPerRecord: (cpu.user + cpu.system) / records,
    };
  } finally {
    await wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** ms per commit round of 4 cursors, each commit awaited: Walnut's in-place slots. */
async function roundInPlace(): Promise<number> {
  const dir = fresh();
  const wal = await Wal.open(dir).build();
  try {
    await wal.appendMany(Array.from({ length: 8 }, (_, i) => payloads.get(i)));
    const cursors = await Promise.all(
      Array.from({ length: CONSUMERS }, (_, i) => wal.cursor(`round-${i}`)),
    );
    const t0 = performance.now();
    for (let round = 0; round < roundsTimed; round++) {
      await Promise.all(cursors.map((c) => c.commit(BigInt(1 + (round % 8)))));
    }
    return (performance.now() - t0) / roundsTimed;
  } finally {
    await wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * ms per round of the cursor write that 0632 replaced, through the same StorageIo: per
 * cursor a temporary file written, fsynced and renamed over the cursor file, all four side
 * by side, then one fsync of the directory.
 */
async function roundReplacing(): Promise<number> {
  const dir = fresh();
  const io = createStorageIo();
  const bytes = Buffer.alloc(20, 7);
  const replace = async (path: string) => {
    const fd = await io.open(`${path}.tmp`, { create: true, truncate: true, mode: 0o600 });
    try {
      await io.write(fd, bytes, 0);
      await io.fsync(fd);
    } finally {
      await io.close(fd);
    }
    await io.rename(`${path}.tmp`, path);
  };
  try {
    const paths = Array.from({ length: CONSUMERS }, (_, i) => join(dir, `round-${i}.cursor`));
    const t0 = performance.now();
    for (let round = 0; round < roundsTimed; round++) {
      await Promise.all(paths.map(replace));
      await io.syncDirectory(dir);
    }
    return (performance.now() - t0) / roundsTimed;
  } finally {
    await io.closeIo();
    rmSync(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const range = (xs: number[], f: (n: number) => string = fmt) =>
  `${f(median(xs))} (${f(Math.min(...xs))}-${f(Math.max(...xs))})`;
const ratio = (n: number) => `${n.toFixed(2)}x`;
const ms = (n: number) => n.toFixed(3);

console.log(
  `W7: ${PRODUCERS} producers, ${fmt(records)} × 128 B durable appends: alone, beside ${CONSUMERS} tails, and beside ${CONSUMERS} consumers committing after every record, awaited or pipelined; then commit rounds of ${CONSUMERS} cursors alone (${reps} interleaved repetitions, median (min-max))`,
);
const results = new Map<Mode, Run[]>(MODES.map((mode) => [mode, []]));
const ratios = new Map<Mode, number[]>(MODES.map((mode) => [mode, []]));
const inPlace: number[] = [];
const replacing: number[] = [];
for (let rep = 1; rep <= reps; rep++) {
  // Each repetition starts with another mode, so that none always runs first or after the same one.
  const order = MODES.map((_, i) => MODES[(i + rep - 1) % MODES.length]!);
  const runs = new Map<Mode, Run>();
  for (const mode of order) runs.set(mode, await run(mode));
  const alone = runs.get('alone')!.producerRate;
  for (const mode of order) {
    const r = runs.get(mode)!;
    results.get(mode)!.push(r);
    ratios.get(mode)!.push(r.producerRate / alone);
    const cursorPart =
      mode === 'awaited' || mode === 'pipelined'
        ? `, commits ${fmt(r.commitRate)}/s, ${r.syncsPerRound.toFixed(1)} syncs/round, ${r.commitsPerFile.toFixed(1)} commits/file, lag ${r.lagAtEnd} at end, ${r.lagMax} max`
        : '';
    console.log(
      `  rep ${rep} ${mode.padEnd(9)}: producers ${fmt(r.producerRate)} rec/s (${ratio(r.producerRate / alone)}), CPU ${r.cpuPerRecord.toFixed(1)} µs/record${cursorPart}`,
    );
  }
  if (roundsTimed === 0) continue;
  // Alternate which goes first, so neither always follows the same neighbour.
  if (rep % 2 === 1) {
    inPlace.push(await roundInPlace());
    replacing.push(await roundReplacing());
  } else {
    replacing.push(await roundReplacing());
    inPlace.push(await roundInPlace());
  }
  console.log(
    `  rep ${rep} rounds of ${CONSUMERS}: in place ${ms(inPlace.at(-1)!)} ms, replacing files ${ms(replacing.at(-1)!)} ms`,
  );
}
console.log('medians:');
for (const mode of MODES) {
  const rs = results.get(mode)!;
  let line = `  ${mode.padEnd(9)}: producers ${range(rs.map((r) => r.producerRate))} rec/s, ${range(ratios.get(mode)!, ratio)} of W3 alone, CPU ${range(
    rs.map((r) => r.cpuPerRecord),
    (n) => n.toFixed(1),
  )} µs/record`;
  if (mode === 'awaited' || mode === 'pipelined') {
    line +=
      `; commits ${range(rs.map((r) => r.commitRate))}/s, ${range(
        rs.map((r) => r.syncsPerRound),
        (n) => n.toFixed(1),
      )} syncs/round, ` +
      `lag at end ${range(rs.map((r) => Number(r.lagAtEnd)))}, max ${range(rs.map((r) => Number(r.lagMax)))} records`;
  }
  console.log(line);
}
if (roundsTimed > 0)
  console.log(
    `  a commit round of ${CONSUMERS} cursors alone: in place ${range(inPlace, ms)} ms, replacing files ${range(replacing, ms)} ms (${(median(replacing) / median(inPlace)).toFixed(1)}x)`,
  );
