/**
 * W7, cursor commits beside group commit (`pnpm --filter @walnut/bench bench:cursors`):
 * W3's 64 producers (each awaiting the durability of its 128-byte record) alone, and the
 * same with 4 consumers in the process, each reading through its own durable cursor and
 * committing after every record. Prints, per run, the producers' records/s, the consumers'
 * commits/s and how far behind the slowest one was when the producers finished, and how
 * many records the commits of a cursor write covered. Walnut only (the floor and the peers
 * have no cursors); runs alternate so that both see the same minutes of a shared disk.
 * Options: --records N (default 50,000), --reps N (default 3), --dir PATH.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Wal } from '@walnut/wal';
import { PayloadSet } from './payloads.js';
import { WORKLOAD_SEEDS } from './workloads.js';

const PRODUCERS = 64;
const CONSUMERS = 4;
const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '50000' },
    reps: { type: 'string', default: '3' },
    dir: { type: 'string' },
  },
});
const records = Number(values.records);
const reps = Number(values.reps);
const payloads = new PayloadSet(records, 128, WORKLOAD_SEEDS.W3);

type Mode = 'alone' | 'reading' | 'awaited' | 'pipelined';

interface Run {
  producerRate: number;
  /** Commits per second, all consumers together, while the producers ran. */
  commitRate: number;
  /** How far the slowest consumer's cursor was behind the last record when the producers finished. */
  lagAtEnd: bigint;
  /** Pipelined: how long after the producers the last consumer's last commit was durable. */
  catchUpMs: number;
  commitRounds: number;
  commitsPerRound: number;
}

/**
 * `reading`: the consumers follow the log (`tail`) without cursors, to tell the cost of
 * reading from the cost of committing. `awaited`: each consumer awaits every commit before reading on (the README's loop): its
 * rate is one record per cursor write round. `pipelined`: each consumer commits after
 * every record without waiting for it, and awaits every 1,024th: commits arriving during a
 * round share the next. A consumer that stopped between its last durable commit and a
 * crash reads those records again either way (at least once).
 */
async function run(mode: Mode): Promise<Run> {
  const dir = mkdtempSync(join(values.dir ?? tmpdir(), 'walnut-bench-cursors-'));
  const wal = await Wal.open(dir).build();
  try {
    const cursors =
      mode === 'alone' || mode === 'reading'
        ? []
        : await Promise.all(
            Array.from({ length: CONSUMERS }, (_, i) => wal.cursor(`consumer-${i}`)),
          );
    const stop = new AbortController();
    let commits = 0;
    const consuming = cursors.map(async (cursor) => {
      let last: Promise<bigint> = Promise.resolve(0n);
      for await (const record of cursor.records({ signal: stop.signal })) {
        last = cursor.commit(record.lsn);
        commits++;
        if (mode === 'awaited' || commits % 1024 === 0) await last;
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
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: PRODUCERS }, async () => {
        for (let i = next++; i < records; i = next++) await wal.append(payloads.get(i));
      }),
    );
    const t1 = performance.now();
    const commitsDuring = commits;
    let lagAtEnd = 0n;
    for (const cursor of cursors) {
      if (wal.lastLsn - cursor.lsn > lagAtEnd) lagAtEnd = wal.lastLsn - cursor.lsn;
    }
    // Awaited consumers are far behind by design: stop them rather than wait minutes.
    if (mode === 'awaited') stop.abort();
    await Promise.all([...consuming, ...readers]);
    const t2 = performance.now();
    stop.abort();
    const { rounds, filesWritten } = wal.stats().cursorCommits;
    return {
      producerRate: records / ((t1 - t0) / 1000),
      commitRate: commitsDuring / ((t1 - t0) / 1000),
      lagAtEnd,
      catchUpMs: t2 - t1,
      commitRounds: rounds,
      commitsPerRound: rounds === 0 ? 0 : commits / filesWritten,
    };
  } finally {
    await wal.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `W7: ${PRODUCERS} producers, ${fmt(records)} × 128 B durable appends: alone, with ${CONSUMERS} consumers awaiting a commit after every record, and with ${CONSUMERS} committing after every record pipelined (${reps} alternating rounds)`,
);
for (let rep = 1; rep <= reps; rep++) {
  const alone = await run('alone');
  console.log(`round ${rep}: W3 alone ${fmt(alone.producerRate)} rec/s`);
  const reading = await run('reading');
  console.log(
    `  reading  : producers ${fmt(reading.producerRate)} rec/s (${(reading.producerRate / alone.producerRate).toFixed(2)}x alone) with ${CONSUMERS} tails and no cursors`,
  );
  for (const mode of ['awaited', 'pipelined'] as const) {
    const r = await run(mode);
    console.log(
      `  ${mode.padEnd(9)}: producers ${fmt(r.producerRate)} rec/s (${(r.producerRate / alone.producerRate).toFixed(2)}x alone), ` +
        `commits ${fmt(r.commitRate)}/s in all while they ran, slowest cursor ${r.lagAtEnd} records behind at their end` +
        `${mode === 'pipelined' ? ` (all committed ${r.catchUpMs.toFixed(0)} ms later)` : ''}, ` +
        `${fmt(r.commitRounds)} cursor write rounds, ${r.commitsPerRound.toFixed(1)} commits per file written`,
    );
  }
}
