/**
 * `@walnut/streams` at scale (`pnpm --filter @walnut/bench run bench:streams [--quick]`),
 * issue #59's "Scale and speed", every ratio measured in this run:
 *
 * - many streams in one directory: descriptors the process holds, heap bytes per stream;
 * - concurrent creates: how many fdatasync rounds made them all durable;
 * - 64 producers appending durably (each awaiting its 128-byte record) over 1,000 streams,
 *   against a single `Wal`'s W3 and the peers: one `Wal` per stream, better-sqlite3 with a
 *   `(stream, offset)` table, lmdb-js with `[stream, offset]` keys — in alternating rounds;
 * - reading one stream among many interleaved ones: bytes read (rchar) per byte of it;
 * - reading a stream back after a compaction copied it forward, against reading it before;
 * - open after many appends over many streams, against opening a single `Wal` of as many
 *   records;
 * - a checkpoint of that log's index, against the `checkpointEvery` calls it follows;
 * - reading one stream of that log (its records mostly in sealed segments, among all the
 *   others), against one replay of the whole log.
 *
 * `--quick` is a smoke run (seconds). Options: --dir PATH, --reps N, --slow-disk MS (the 64
 * producers' logs on a disk that flushes MS slower).
 */
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Streams } from '@walnut/streams';
import { Wal } from '@walnut/wal';
import { BENCH_ROOT, importOrReason } from './contenders/versions.js';
import { GroupCommit } from './floor/group-commit.js';
import { repoRootOf } from './machine.js';
import { mountSlowDisk, type SlowDisk } from './slow-disk.js';
import { median } from './stats.js';

const { values } = parseArgs({
  // `pnpm run bench:streams -- --quick` hands the script a `--` of its own, as the bench's cli takes.
  args: process.argv.slice(2).filter((arg) => arg !== '--'),
  options: {
    quick: { type: 'boolean', default: false },
    dir: { type: 'string' },
    reps: { type: 'string' },
    'slow-disk': { type: 'string' },
  },
});
const quick = values.quick;
const SIZES = quick
  ? {
      streams: 1_000,
      creates: 300,
      records: 640,
      producerStreams: 100,
      target: 50,
      others: 10,
      compacted: 2_000,
      opens: 5_000,
    }
  : {
      streams: 100_000,
      creates: 10_000,
      records: 50_000,
      producerStreams: 1_000,
      target: 1_000,
      others: 100,
      compacted: 100_000,
      opens: 1_000_000,
    };
const reps = Number(values.reps ?? (quick ? 1 : 3));
const PRODUCERS = 64;
const PRODUCER_STREAMS = SIZES.producerStreams;
/** Descriptors the one-Wal-per-stream peer held with all its logs open. */
let perStreamDescriptors = 0;
const PAYLOAD = Buffer.alloc(128, 0x61);
const slowDiskMs = values['slow-disk'] === undefined ? undefined : Number(values['slow-disk']);
if (
  slowDiskMs !== undefined &&
  !(Number.isInteger(slowDiskMs) && slowDiskMs >= 0 && slowDiskMs <= 1000)
) {
  console.error(`--slow-disk takes milliseconds from 0 to 1000, not ${values['slow-disk']}`);
  process.exit(2);
}
const root = mkdtempSync(join(values.dir ?? tmpdir(), 'walnut-bench-streams-'));
let dirs = 0;
const fresh = () => mkdtempSync(join(root, `${dirs++}-`));
/**
 * With `--slow-disk MS` the 64 producers' logs go on crashfs flushing MS slower (bench
 * README, "A slow disk"): where the flush, not the CPU, bounds a round.
 */
let slowDisk: SlowDisk | undefined;
const freshForProducers = () =>
  slowDisk === undefined ? fresh() : mkdtempSync(join(slowDisk.dir, `${dirs++}-`));
const descriptors = () => readdirSync('/proc/self/fd').length;
const rchar = () => Number(/rchar: (\d+)/.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
const gc = (globalThis as { gc?: () => void }).gc;
const heap = () => {
  gc?.();
  return process.memoryUsage().heapUsed;
};
const round = (n: number, digits = 2) => Number(n.toFixed(digits));

/** Creates `count` streams (1,000 calls at a time), each with one append: fds and heap. */
async function manyStreams(count: number) {
  const fdsBefore = descriptors();
  const heapBefore = heap();
  const streams = await Streams.open(fresh());
  const t0 = performance.now();
  for (let at = 0; at < count; at += 1000) {
    const names = Array.from({ length: Math.min(1000, count - at) }, (_, i) => `s${at + i}`);
    await Promise.all(names.map((name) => streams.create(name)));
    await Promise.all(names.map((name) => streams.append(name, PAYLOAD)));
  }
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    streams: count,
    descriptorsHeld: descriptors() - fdsBefore,
    heapBytesPerStream: Math.round((heap() - heapBefore) / count),
    heapMeasured: gc === undefined ? 'without --expose-gc (noisier)' : 'after gc()',
    createAndAppendPerSec: Math.round((2 * count) / seconds),
  };
  await streams.shutdown();
  return result;
}

async function concurrentCreates(count: number) {
  const streams = await Streams.open(fresh());
  const before = streams.log.stats().syncs;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: count }, (_, i) => streams.create(`c${i}`)));
  const ms = performance.now() - t0;
  const syncs = streams.log.stats().syncs - before;
  await streams.shutdown();
  return { creates: count, fdatasyncRounds: syncs, ms: Math.round(ms) };
}

/** Each of 64 producers appends `records / 64` payloads, awaiting each one's durability. */
async function producers(
  records: number,
  append: (producer: number, i: number) => Promise<unknown>,
) {
  const each = Math.ceil(records / PRODUCERS);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  await Promise.all(
    Array.from({ length: PRODUCERS }, async (_, p) => {
      for (let i = 0; i < each; i++) await append(p, i);
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  lastCpuPerRecord = (cpu.user + cpu.system) / (each * PRODUCERS);
  return (each * PRODUCERS) / ((performance.now() - t0) / 1000);
}

/** The process's CPU time per record of the last `producers` run, µs (every thread of it). */
let lastCpuPerRecord = 0;

/** The stream producer `p`'s `i`th append goes to: every stream gets appends from several. */
const streamOf = (p: number, i: number) => (p * 131 + i * 17) % PRODUCER_STREAMS;

type Contender = { id: string; run: () => Promise<number> };

function contenders(sqlite: unknown, lmdb: unknown): Contender[] {
  const list: Contender[] = [
    {
      id: 'wal W3 (one stream)',
      run: async () => {
        const wal = await Wal.open(freshForProducers()).build();
        const rate = await producers(SIZES.records, () => wal.append(PAYLOAD));
        await wal.close();
        return rate;
      },
    },
    {
      id: `@walnut/streams, ${PRODUCER_STREAMS} streams`,
      run: async () => {
        const streams = await Streams.open(freshForProducers());
        for (let s = 0; s < PRODUCER_STREAMS; s++) await streams.create(`s${s}`);
        const rate = await producers(SIZES.records, (p, i) =>
          streams.append(`s${streamOf(p, i)}`, PAYLOAD),
        );
        await streams.shutdown();
        return rate;
      },
    },
    {
      id: 'one Wal per stream',
      run: async () => {
        const root = freshForProducers();
        const wals: Wal[] = [];
        const fdsBefore = descriptors();
        for (let s = 0; s < PRODUCER_STREAMS; s++)
          wals.push(await Wal.open(join(root, `${s}`)).build());
        perStreamDescriptors = descriptors() - fdsBefore;
        const rate = await producers(SIZES.records, (p, i) =>
          wals[streamOf(p, i)]!.append(PAYLOAD),
        );
        for (const wal of wals) await wal.close();
        return rate;
      },
    },
  ];
  if (typeof sqlite === 'function') list.push(sqliteContender(sqlite as SqliteCtor));
  if (typeof lmdb === 'function') list.push(lmdbContender(lmdb as LmdbOpen));
  return list;
}

type SqliteDb = {
  pragma(s: string): unknown;
  exec(s: string): void;
  prepare(s: string): { run(...a: unknown[]): unknown };
  close(): void;
};
type SqliteCtor = new (file: string) => SqliteDb;

/** A `(stream, offset)` table, synchronous=FULL, each group-commit round one transaction. */
function sqliteContender(Database: SqliteCtor): Contender {
  return {
    id: 'better-sqlite3 (stream, offset) table',
    run: async () => {
      const db = new Database(join(freshForProducers(), 'streams.sqlite'));
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.exec(
        'CREATE TABLE records (stream INTEGER, offset INTEGER, payload BLOB, PRIMARY KEY (stream, offset)) WITHOUT ROWID',
      );
      const insert = db.prepare('INSERT INTO records VALUES (?, ?, ?)');
      const tails = new Int32Array(PRODUCER_STREAMS);
      const streamsOfRound: number[] = [];
      const rounds = new GroupCommit((payloads) => {
        const streams = streamsOfRound.splice(0, payloads.length);
        db.exec('BEGIN');
        for (const [k, payload] of payloads.entries()) {
          const stream = streams[k]!;
          insert.run(stream, tails[stream]!++, payload);
        }
        db.exec('COMMIT');
      });
      const rate = await producers(SIZES.records, (p, i) => {
        streamsOfRound.push(streamOf(p, i));
        return rounds.add(PAYLOAD);
      });
      db.close();
      return rate;
    },
  };
}

type LmdbOpen = (options: Record<string, unknown>) => {
  put(key: unknown, value: Uint8Array): Promise<boolean>;
  readonly flushed: Promise<void>;
  close(): Promise<void>;
};

/** `[stream, offset]` keys; lmdb gathers the puts of a turn into one durable transaction. */
function lmdbContender(open: LmdbOpen): Contender {
  return {
    id: 'lmdb-js [stream, offset] keys',
    run: async () => {
      const db = open({ path: freshForProducers(), encoding: 'binary', compression: false });
      const tails = new Int32Array(PRODUCER_STREAMS);
      const rate = await producers(SIZES.records, async (p, i) => {
        const stream = streamOf(p, i);
        await db.put([stream, tails[stream]!++], PAYLOAD);
        await db.flushed;
      });
      await db.close();
      return rate;
    },
  };
}

/** One stream of `target` records, each followed by `others` appends to other streams. */
async function readOneAmongMany(target: number, others: number) {
  const dir = fresh();
  const writer = await Streams.open(dir, { durability: 'none' });
  await writer.create('target');
  const population = Math.min(SIZES.streams, target * others);
  for (let at = 0; at < population; at += 1000) {
    const names = Array.from({ length: Math.min(1000, population - at) }, (_, i) => `o${at + i}`);
    await Promise.all(names.map((name) => writer.create(name)));
  }
  for (let i = 0; i < target; i++) {
    const appends = [writer.append('target', PAYLOAD)];
    for (let k = 0; k < others; k++)
      appends.push(writer.append(`o${(i * others + k) % population}`, PAYLOAD));
    await Promise.all(appends);
  }
  await writer.shutdown();
  // sync-fs: its reads are read(2) calls, which rchar counts (io_uring's are not).
  const streams = await Streams.open(dir, { storageIo: 'sync-fs' });
  const before = rchar();
  let bytes = 0;
  for (let from = 0; ; ) {
    const read = await streams.read('target', from, { maxRecords: 10_000 });
    if (read.records.length === 0) break;
    for (const record of read.records) bytes += record.payload.length;
    from = read.next;
  }
  const readBytes = rchar() - before;
  await streams.shutdown();
  return {
    streams: population + 1,
    targetRecords: target,
    bytesReadPerByte: round(readBytes / bytes),
  };
}

/**
 * A stream of `appends` one-record appends read back whole before and after a compaction
 * copied it forward (interleaved with a deleted stream's, so every segment is half dead): a
 * copy holds many appends, and reading it costs about what reading them did.
 */
async function readAfterCompaction(appends: number) {
  const streams = await Streams.open(fresh(), {
    durability: 'none',
    segmentSize: quick ? 64 * 1024 : 1024 * 1024,
    checkpointEvery: 0,
  });
  await streams.create('kept');
  await streams.create('gone');
  for (let at = 0; at < appends; at += 1000) {
    const batch = Math.min(1000, appends - at);
    await Promise.all(
      Array.from({ length: batch }, () => [
        streams.append('kept', PAYLOAD),
        streams.append('gone', PAYLOAD),
      ]).flat(),
    );
  }
  await streams.delete('gone');
  const readMs = async () => {
    const runs: number[] = [];
    for (let r = 0; r < Math.max(3, reps); r++) {
      const t0 = performance.now();
      for (let from = 0; ; ) {
        const read = await streams.read('kept', from, { maxRecords: 10_000 });
        if (read.records.length === 0) break;
        from = read.next;
      }
      runs.push(performance.now() - t0);
    }
    return median(runs);
  };
  const beforeMs = await readMs();
  const { recordsCopied } = await streams.compact();
  const afterMs = await readMs();
  await streams.shutdown();
  return {
    appends,
    recordsCopied,
    beforeMs: round(beforeMs),
    afterMs: round(afterMs),
    ratio: round(afterMs / beforeMs),
  };
}

/** A streams log of `appends` 128-byte appends round-robin over `streamCount` streams. */
async function interleaved(appends: number, streamCount: number): Promise<string> {
  const streamsDir = fresh();
  const writer = await Streams.open(streamsDir, { durability: 'none' });
  for (let s = 0; s < streamCount; s++) await writer.create(`s${s}`);
  for (let at = 0; at < appends; at += 1000) {
    await Promise.all(
      Array.from({ length: Math.min(1000, appends - at) }, (_, i) =>
        writer.append(`s${(at + i) % streamCount}`, PAYLOAD),
      ),
    );
  }
  await writer.shutdown();
  return streamsDir;
}

/**
 * Streams.open of an `interleaved` log, vs Wal.open of a log of as many records; and the
 * `Wal` open of the streams log itself (read-only), the part of the streams' open that is
 * the log's own (it scans the segment being written, whose size differs between the logs).
 */
async function openTime(streamsDir: string, appends: number, streamCount: number) {
  const walDir = fresh();
  const wal = await Wal.open(walDir).options({ durability: 'none' }).build();
  for (let at = 0; at < appends; at += 1000) {
    await wal.appendMany(Array.from({ length: Math.min(1000, appends - at) }, () => PAYLOAD));
  }
  await wal.close();
  const streamsMs: number[] = [];
  const walMs: number[] = [];
  const logMs: number[] = [];
  const timed = async (into: number[], open: () => Promise<{ close(): Promise<unknown> }>) => {
    const t0 = performance.now();
    const opened = await open();
    into.push(performance.now() - t0);
    await opened.close();
  };
  for (let r = 0; r < Math.max(3, reps * 3); r++) {
    await timed(streamsMs, async () => {
      const streams = await Streams.open(streamsDir, { readOnly: true });
      return { close: () => streams.shutdown() };
    });
    await timed(walMs, () => Wal.open(walDir).readOnly().build());
    await timed(logMs, () => Wal.open(streamsDir).readOnly().build());
  }
  return {
    appends,
    streams: streamCount,
    streamsOpenMs: round(median(streamsMs)),
    walOpenMs: round(median(walMs)),
    ratio: round(median(streamsMs) / median(walMs)),
    streamsLogWalOpenMs: round(median(logMs)),
  };
}

/**
 * `checkpoint()` of an `interleaved` log (a copy: the checkpoint replaces its file), against
 * the durable appends of the `checkpointEvery` (10,000 by default) calls between two
 * automatic checkpoints, 1,000 at a time: what a checkpoint adds to each call at this size.
 */
async function checkpointCost(streamsDir: string, streamCount: number) {
  const dir = fresh();
  cpSync(streamsDir, dir, { recursive: true });
  const streams = await Streams.open(dir, { checkpointEvery: 0 });
  const calls = 10_000;
  const appendMs: number[] = [];
  const checkpointMs: number[] = [];
  for (let r = 0; r < Math.max(3, reps); r++) {
    let t0 = performance.now();
    for (let at = 0; at < calls; at += 1000) {
      await Promise.all(
        Array.from({ length: 1000 }, (_, i) =>
          streams.append(`s${(at + i) % streamCount}`, PAYLOAD),
        ),
      );
    }
    appendMs.push(performance.now() - t0);
    t0 = performance.now();
    await streams.checkpoint();
    checkpointMs.push(performance.now() - t0);
  }
  // The checkpoint, and the index rows file it names (decision 0720).
  const files = Object.fromEntries(
    readdirSync(dir)
      .filter((name) => name.startsWith('streams.'))
      .map((name) => [name, statSync(join(dir, name)).size]),
  );
  await streams.shutdown();
  return {
    files,
    checkpointMs: round(median(checkpointMs)),
    appendsMs: round(median(appendMs)),
    ratio: round(median(checkpointMs) / median(appendMs)),
  };
}

/**
 * One stream of an `interleaved` log read whole (most of its records in sealed segments,
 * among every other stream's), against one replay of the whole log: what a read of a few
 * records far apart costs next to reading everything.
 */
async function sparseRead(streamsDir: string, streamCount: number) {
  const streams = await Streams.open(streamsDir, { readOnly: true });
  const readMs: number[] = [];
  const replayMs: number[] = [];
  let records = 0;
  for (let r = 0; r < Math.max(3, reps); r++) {
    let t0 = performance.now();
    records = 0;
    for (let from = 0; ; ) {
      const read = await streams.read(`s${(r * 7919) % streamCount}`, from, { maxRecords: 10_000 });
      if (read.records.length === 0) break;
      records += read.records.length;
      from = read.next;
    }
    readMs.push(performance.now() - t0);
    t0 = performance.now();
    await streams.log.replay(1n, () => {});
    replayMs.push(performance.now() - t0);
  }
  const segments = (await streams.log.segments()).length;
  await streams.shutdown();
  return {
    records,
    segments,
    readMs: round(median(readMs)),
    replayMs: round(median(replayMs)),
    ratio: round(median(readMs) / median(replayMs)),
  };
}

try {
  console.log(
    `streams bench (${quick ? 'quick' : 'full'}), node ${process.version}, ${reps} rep(s)`,
  );
  console.log('many streams:', await manyStreams(SIZES.streams));
  console.log('concurrent creates:', await concurrentCreates(SIZES.creates));
  const sqlite = await importOrReason<{ default: unknown }>('better-sqlite3');
  const lmdb = await importOrReason<{ open: unknown }>('lmdb');
  const list = contenders(
    'reason' in sqlite ? undefined : sqlite.module.default,
    'reason' in lmdb ? undefined : lmdb.module.open,
  );
  if (slowDiskMs !== undefined) {
    slowDisk = await mountSlowDisk(repoRootOf(BENCH_ROOT), values.dir ?? tmpdir(), slowDiskMs);
    console.log(
      `the 64 producers' logs: crashfs --fsync-delay-ms ${slowDiskMs} on ${slowDisk.dir}`,
    );
  }
  const rates = new Map<string, number[]>(list.map((c) => [c.id, []]));
  const cpus = new Map<string, number[]>(list.map((c) => [c.id, []]));
  for (let r = 0; r < reps; r++) {
    // Each round starts one further along, so no contender always runs first.
    for (let k = 0; k < list.length; k++) {
      const contender = list[(r + k) % list.length]!;
      rates.get(contender.id)!.push(await contender.run());
      cpus.get(contender.id)!.push(lastCpuPerRecord);
    }
  }
  const w3 = median(rates.get(list[0]!.id)!);
  console.log(
    `64 producers, durable 128-byte appends over ${PRODUCER_STREAMS} streams, ${SIZES.records} records:`,
  );
  for (const [id, runs] of rates) {
    const cpu = round(median(cpus.get(id)!), 1);
    console.log(
      `  ${id}: ${Math.round(median(runs))} records/s, ${round(median(runs) / w3)}× W3, ${cpu} µs of CPU per record`,
    );
  }
  console.log(`  one Wal per stream held ${perStreamDescriptors} descriptors`);
  slowDisk?.close();
  slowDisk = undefined;
  console.log('read one stream among many:', await readOneAmongMany(SIZES.target, SIZES.others));
  console.log('read after a compaction:', await readAfterCompaction(SIZES.compacted));
  const streamCount = Math.min(10_000, Math.max(10, SIZES.opens / 100));
  const log = await interleaved(SIZES.opens, streamCount);
  console.log('open:', await openTime(log, SIZES.opens, streamCount));
  console.log('a checkpoint, against 10,000 calls:', await checkpointCost(log, streamCount));
  console.log('read one stream among all of them:', await sparseRead(log, streamCount));
} finally {
  slowDisk?.close();
  rmSync(root, { recursive: true, force: true });
}
