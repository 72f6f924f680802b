// Benchmarks of @walnut/codec (built: run through `pnpm --filter @walnut/codec bench`).
// Prints medians and their ratio to the targets of issue 2. Not part of `vitest run`.
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Bench } from 'tinybench';
import {
  crc32c,
  crc32cImplementation,
  encodeRecordFrame,
  encodeRecordFramesUnsealed,
  encodeRecordFrameUnsealed,
  FrameScanner,
  NATIVE_CRC32C_THRESHOLD,
  sealFrames,
  verifyFrameRun,
} from '../dist/index.js';

const MiB = 1 << 20;
const CROSSOVER_SIZES = [16, 32, 48, 64, 96, 128, 256, 384, 1024, 4096, 65536];
const data = Buffer.alloc(4 * MiB);
for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;

/**
 * Runs each task for ~`time` ms and returns its median latency in ms; `best` collects the
 * fastest run, which shows what the code does when the shared machine leaves it alone.
 */
const best = new Map();
async function medians(tasks, time = 500) {
  const bench = new Bench({ time, warmupTime: 100 });
  for (const [name, fn] of tasks) bench.add(name, fn);
  await bench.run();
  for (const t of bench.tasks) best.set(t.name, t.result.latency.min);
  return new Map(bench.tasks.map((t) => [t.name, t.result.latency.p50]));
}

/** A task computing CRC32C over `size`-byte slices of `data`, ~1 MiB per run. */
function crcTask(fn, size) {
  const count = Math.max(1, MiB / size) | 0;
  const views = Array.from({ length: count }, (_, i) => data.subarray(i * size, i * size + size));
  return {
    bytes: count * size,
    fn: () => {
      let x = 0;
      for (let i = 0; i < count; i++) x ^= fn(views[i]);
      return x;
    },
  };
}

async function crcRates(fn, sizes) {
  const tasks = new Map(sizes.map((size) => [String(size), crcTask(fn, size)]));
  const med = await medians(
    [...tasks].map(([name, t]) => [name, t.fn]),
    300,
  );
  const rate = (ms, t) => t.bytes / (ms * 1e6);
  return Object.fromEntries(
    [...tasks].flatMap(([name, t]) => [
      [name, rate(med.get(name), t)],
      [`best ${name}`, rate(best.get(name), t)],
    ]),
  );
}

// Child mode: crc32c() with WALNUT_CRC32C=js (JavaScript at every length) or =native (the
// addon at every length), for the crossover table.
if (process.argv[2] === '--crossover') {
  console.log(JSON.stringify(await crcRates(crc32c, CROSSOVER_SIZES)));
  process.exit(0);
}

const rows = [];
function row(name, value, unit, target, bestValue) {
  rows.push({ name, value, unit, target, bestValue });
}

// CRC32C as the library serves it (JavaScript below the threshold, native above).
const lib = await crcRates(crc32c, [128, 4096, 65536]);
row('crc32c 128 B', lib['128'], 'GB/s', 1.1, lib['best 128']);
row('crc32c 4 KiB', lib['4096'], 'GB/s', undefined, lib['best 4096']);
row('crc32c 64 KiB', lib['65536'], 'GB/s', 5, lib['best 65536']);

// Encode 128-byte records into a reusable 1 MiB buffer.
const target = Buffer.alloc(MiB);
const input = { payload: Buffer.alloc(128, 0x61) };
let frames = 0;
// The loops advance the LSN with `lsn += 1n`, as segmented does (`last + 1n`): Node 20's
// optimising compiler turns a bigint addition into inline code but not `lsn++`, which
// costs ~330 more instructions per record (perf stat). The `lsn++` line shows that cost.
function encodeFill() {
  let at = 0;
  let lsn = 1n;
  let n = 0;
  while (at + 148 <= target.length) {
    at += encodeRecordFrame(target, at, lsn, input);
    lsn += 1n;
    n++;
  }
  frames = n;
  return at;
}
/** The batch write path: frames encoded without CRC, the whole buffer sealed in one call. */
function encodeFillSealOnce() {
  let at = 0;
  let lsn = 1n;
  while (at + 148 <= target.length) {
    at += encodeRecordFrameUnsealed(target, at, lsn, input);
    lsn += 1n;
  }
  sealFrames(target, 0, at);
  return at;
}
/** The same with `lsn++`: what the bench measured before 2026-11-22 06:20 UTC. */
function encodeFillSealOnceIncrement() {
  let at = 0;
  let lsn = 1n;
  while (at + 148 <= target.length) at += encodeRecordFrameUnsealed(target, at, lsn++, input);
  sealFrames(target, 0, at);
  return at;
}
/**
 * The same frames through encodeRecordFramesUnsealed, 64 records (consecutive LSNs) per
 * call: the encoder checks the bigint LSN once per call, and the loop adds 64n per call
 * instead of 1n per record. segmented appends one record per call today; this line is
 * what a caller with records in hand (an append of many) would pay.
 */
const PER_CALL = 64;
const perCall = Array.from({ length: PER_CALL }, () => input);
const lastCall = perCall.slice(0, Math.floor(MiB / 148) % PER_CALL);
function encodeFillMany() {
  let at = 0;
  let lsn = 1n;
  while (at + PER_CALL * 148 <= target.length) {
    at += encodeRecordFramesUnsealed(target, at, lsn, perCall);
    lsn += 64n;
  }
  at += encodeRecordFramesUnsealed(target, at, lsn, lastCall);
  sealFrames(target, 0, at);
  return at;
}
const many = Buffer.from(target.subarray(0, encodeFillMany()));
if (!many.equals(target.subarray(0, encodeFillSealOnce())))
  throw new Error('encodeRecordFramesUnsealed and encodeRecordFrameUnsealed disagree');
const filled = encodeFill();
const log = target.subarray(0, filled);
/** Scan+verify building a record object per record (the iterator style). */
function scanRecords() {
  const scanner = new FrameScanner(log);
  let bytes = 0;
  for (let r = scanner.nextRecord(); r !== null; r = scanner.nextRecord())
    bytes += r.payload.length;
  if (scanner.stop.kind !== 'eof') throw new Error(`scan stopped: ${scanner.stop.reason}`);
  return bytes;
}
/** Scan+verify with the cursor: reads each record's LSN and payload bounds, builds nothing. */
function scanCursor() {
  const scanner = new FrameScanner(log);
  let bytes = 0;
  let lsn = 0;
  while (scanner.advance()) {
    lsn = scanner.lsnNumber;
    bytes += scanner.payloadEnd - scanner.payloadStart;
  }
  if (scanner.stop.kind !== 'eof') throw new Error(`scan stopped: ${scanner.stop.reason}`);
  if (lsn !== frames) throw new Error(`scan ended at LSN ${lsn}, not ${frames}`);
  return bytes;
}
const copySink = Buffer.alloc(MiB);
const med = await medians([
  ['encode sealed', encodeFill],
  ['encode unsealed + sealFrames', encodeFillSealOnce],
  ['encode many + sealFrames', encodeFillMany],
  ['encode unsealed lsn++ + sealFrames', encodeFillSealOnceIncrement],
  ['scan advance', scanCursor],
  ['scan nextRecord', scanRecords],
  ['verifyFrameRun', () => verifyFrameRun(log).count],
  ['memcpy 1 MiB', () => log.copy(copySink)],
]);
const perMs = (ms) => frames / (ms * 1e3);
const memcpy = (ms) => filled / (ms * 1e6);
const framesRow = (name, task, target) =>
  row(name, perMs(med.get(task)), 'M frames/s', target, perMs(best.get(task)));
framesRow(
  'encode 128 B records: unsealed + one sealFrames per 1 MiB',
  'encode unsealed + sealFrames',
  8,
);
framesRow(
  'encode 128 B records: the same with a bigint lsn++ per record',
  'encode unsealed lsn++ + sealFrames',
);
framesRow(
  `encode 128 B records: encodeRecordFramesUnsealed, ${PER_CALL} per call + one sealFrames per 1 MiB`,
  'encode many + sealFrames',
  8,
);
framesRow('encode 128 B records: encodeRecordFrame (one CRC per frame)', 'encode sealed');
framesRow('scan+verify 128 B records: FrameScanner.advance()', 'scan advance', 8);
framesRow('scan+verify 128 B records: FrameScanner.nextRecord()', 'scan nextRecord');
framesRow('verifyFrameRun (CRC only) 128 B records', 'verifyFrameRun');
row(
  'baseline: memcpy of the same 1 MiB',
  memcpy(med.get('memcpy 1 MiB')),
  'GB/s',
  undefined,
  memcpy(best.get('memcpy 1 MiB')),
);

// Crossover: the public crc32c() forced to JavaScript, then to the addon, at every size.
const crossover = (backend) =>
  JSON.parse(
    execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--crossover'], {
      env: { ...process.env, WALNUT_CRC32C: backend },
      encoding: 'utf8',
    }),
  );
const js = crossover('js');
const addon = crc32cImplementation.backend === 'addon' ? crossover('native') : null;

const fmt = (v) => (v >= 100 ? v.toFixed(0) : v.toFixed(2));
console.log(
  `@walnut/codec bench — Node ${process.version}, ${os.cpus().length} cores, Linux ${os.release()}`,
);
console.log(
  `load average ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')} (other work on the machine lowers every number)`,
);
console.log(`crc32c: ${crc32cImplementation.reason}\n`);
console.log('| measure | median | target | median / target | best run | best / target |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const r of rows) {
  const ratio = (v) => (r.target === undefined ? '' : `${(v / r.target).toFixed(2)}×`);
  const tgt = r.target === undefined ? '' : `≥ ${r.target} ${r.unit}`;
  const cells = [
    fmt(r.value),
    r.unit,
    '|',
    tgt,
    '|',
    ratio(r.value),
    '|',
    fmt(r.bestValue),
    r.unit,
  ];
  console.log(`| ${r.name} | ${cells.join(' ')} | ${ratio(r.bestValue)} |`);
}
console.log(
  '\nCRC32C crossover: crc32c() in pure JavaScript against crc32c() through the addon (GB/s; the library switches to the addon at',
  NATIVE_CRC32C_THRESHOLD,
  'B):\n',
);
console.log('| size | JS slicing-by-16 | addon | addon / JS (median) | addon / JS (best runs) |');
console.log('|---:|---:|---:|---:|---:|');
for (const size of CROSSOVER_SIZES) {
  const k = String(size);
  const cell = (x) => (x === undefined ? 'not loaded' : fmt(x));
  const ratio = (a, b) => (a === undefined ? 'n/a' : `${(a / b).toFixed(2)}×`);
  const cells = [
    fmt(js[k]),
    cell(addon?.[k]),
    ratio(addon?.[k], js[k]),
    ratio(addon?.[`best ${k}`], js[`best ${k}`]),
  ];
  console.log(`| ${size} B | ${cells.join(' | ')} |`);
}
