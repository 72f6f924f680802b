// Replay benchmark: MmapWalReader against a hand-written node:fs reader, in one run.
// Run with `pnpm --filter @walnut/mmap-reader bench` (builds first). Options (env):
//   BENCH_RECORDS (default 1000000), BENCH_PAYLOAD (128), BENCH_RUNS (5), BENCH_DIR (os.tmpdir()).
import { execSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  crc32c,
  encodeFileHeader,
  encodeRecordFrame,
  recordFrameSize,
  segmentFileName,
} from '@walnut/codec';
import { describeMmapSupport, MmapWalReader, replaySegmentsMmap } from '../dist/index.js';

const RECORDS = Number(process.env.BENCH_RECORDS ?? 1_000_000);
const PAYLOAD = Number(process.env.BENCH_PAYLOAD ?? 128);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);

function writeLog(dir) {
  const header = (firstLsn) =>
    encodeFileHeader({
      firstLsn,
      salt: Buffer.alloc(16, 7),
      cipher: 'none',
      fileKind: 'segment',
      keyId: 0,
    });
  const input = { payload: Buffer.alloc(PAYLOAD) };
  const frame = recordFrameSize(input);
  const bytes = Buffer.alloc(64 + frame * RECORDS);
  header(1n).copy(bytes, 0);
  let at = 64;
  for (let i = 0; i < RECORDS; i++) {
    input.payload.fill(i & 0xff);
    at += encodeRecordFrame(bytes, at, BigInt(i + 1), input);
  }
  const sealed = join(dir, segmentFileName(1n));
  writeFileSync(sealed, bytes);
  // An (empty) active segment after it, as a live log has.
  writeFileSync(join(dir, segmentFileName(BigInt(RECORDS + 1))), header(BigInt(RECORDS + 1)));
  execSync('sync');
  return { sealed, bytes: bytes.length };
}

/** The floor: 1 MiB reads into one buffer, frames parsed and CRC-checked one by one. */
function nodeFsReplay(path) {
  const CHUNK = 1024 * 1024;
  const fd = openSync(path, 'r');
  let buf = Buffer.allocUnsafe(CHUNK);
  let have = readSync(fd, buf, 0, CHUNK, 0);
  let filePos = have;
  let p = 64;
  let count = 0;
  let touched = 0;
  let lastLsn = 0n;
  for (;;) {
    if (have - p < 8 || have - p < 8 + buf.readUInt32LE(p + 4)) {
      // Move the partial frame to the front and refill.
      const rest = have - p;
      const need = rest >= 8 ? 8 + buf.readUInt32LE(p + 4) : 8;
      if (need > buf.length) {
        const bigger = Buffer.allocUnsafe(need);
        buf.copy(bigger, 0, p, have);
        buf = bigger;
      } else buf.copy(buf, 0, p, have);
      have = rest;
      p = 0;
      const n = readSync(fd, buf, have, buf.length - have, filePos);
      filePos += n;
      have += n;
      if (have - p < 8) break;
      if (n === 0 && have - p < 8 + buf.readUInt32LE(p + 4)) break;
      continue;
    }
    const crc = buf.readUInt32LE(p);
    const len = buf.readUInt32LE(p + 4);
    if (len === 0) break;
    const end = p + 8 + len;
    if (crc32c(buf.subarray(p + 4, end)) !== crc) break;
    lastLsn = buf.readBigUInt64LE(p + 12);
    const payload = buf.subarray(p + 20, end);
    touched += payload[0] + payload[payload.length - 1];
    count++;
    p = end;
  }
  closeSync(fd);
  return { count, touched, lastLsn };
}

function readerReplay(path, mode) {
  const reader = MmapWalReader.open(path, { mode });
  let count = 0;
  let touched = 0;
  let lastLsn = 0n;
  for (let rec = reader.nextRecord(); rec !== null; rec = reader.nextRecord()) {
    touched += rec.payload[0] + rec.payload[rec.payload.length - 1];
    lastLsn = rec.lsn;
    count++;
  }
  return { count, touched, lastLsn };
}

async function mmapDirReplay(dir) {
  let count = 0;
  let touched = 0;
  let lastLsn = 0n;
  await replaySegmentsMmap(dir, 1n, (rec) => {
    touched += rec.payload[0] + rec.payload[rec.payload.length - 1];
    lastLsn = rec.lsn;
    count++;
  });
  return { count, touched, lastLsn };
}

const isRoot = process.getuid?.() === 0;
function dropCaches() {
  execSync('sync');
  writeFileSync('/proc/sys/vm/drop_caches', '3');
}

/** Wall time and CPU time (user + system) of one replay, in ns. */
async function time(fn) {
  globalThis.gc?.();
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  const result = await fn();
  const wall = Number(process.hrtime.bigint() - start);
  const cpu = process.cpuUsage(cpu0);
  if (result.count !== RECORDS || result.lastLsn !== BigInt(RECORDS))
    throw new Error(`replayed ${result.count} records (last LSN ${result.lastLsn})`);
  return { wall, cpu: (cpu.user + cpu.system) * 1000 };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (ns) => RECORDS / (ns / 1e9);
const fmt = (r) => `${(r / 1e6).toFixed(2)}M rec/s`;

async function main() {
  const support = describeMmapSupport();
  if (!support.addonLoaded) throw new Error(`the addon did not load: ${support.reason}`);
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'walnut-mmap-bench-'));
  try {
    const { sealed, bytes } = writeLog(dir);
    console.log(
      `${new Date().toISOString()}: ${RECORDS} records × ${PAYLOAD} B payload, segment ${(bytes / 2 ** 20).toFixed(1)} MiB; ` +
        `${cpus().length} cores (${cpus()[0]?.model}), Node ${process.version}, crc32c ${support.crc32c}`,
    );
    const contenders = {
      'node:fs 1 MiB reads (floor)': () => nodeFsReplay(sealed),
      'MmapWalReader.nextRecord': () => readerReplay(sealed, 'mmap'),
      replaySegmentsMmap: () => mmapDirReplay(dir),
      "MmapWalReader mode 'read'": () => readerReplay(sealed, 'read'),
    };
    const names = Object.keys(contenders);
    const scenarios = isRoot ? ['warm', 'cold'] : ['warm'];
    if (!isRoot) console.log('cold runs skipped: dropping the page cache needs root');
    for (const name of names) await time(contenders[name]); // warm-up (JIT, page cache)
    for (const scenario of scenarios) {
      const samples = Object.fromEntries(names.map((n) => [n, []]));
      for (let run = 0; run < RUNS; run++) {
        for (const name of names) {
          if (scenario === 'cold') dropCaches();
          samples[name].push(await time(contenders[name]));
        }
      }
      const wallFloor = median(samples[names[0]].map((s) => s.wall));
      const cpuFloor = median(samples[names[0]].map((s) => s.cpu));
      console.log(`\n${scenario} (median of ${RUNS}; wall clock | CPU time of this process):`);
      for (const name of names) {
        const wall = median(samples[name].map((s) => s.wall));
        const cpu = median(samples[name].map((s) => s.cpu));
        console.log(
          `  ${name.padEnd(30)} ${fmt(rate(wall)).padStart(14)} ${(wallFloor / wall).toFixed(2).padStart(5)}× floor` +
            ` | ${fmt(rate(cpu)).padStart(14)} ${(cpuFloor / cpu).toFixed(2).padStart(5)}× floor`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
