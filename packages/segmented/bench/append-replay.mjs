// 1,000,000 × 128 B appends + one sync, then a replay of them, against the floor any Node
// developer could write by hand: a node:fs loop that frames the same records (same format,
// same CRC32C) into 1 MiB chunks, writes them, fsyncs once, and reads them back in 1 MiB
// chunks checking every CRC. Ratios come from the same run. Runs on the built packages.
//   pnpm --filter @walnut/segmented bench        (BENCH_RECORDS, BENCH_ROUNDS, BENCH_BACKEND)
import { closeSync, fsyncSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32c, KeyRing } from '@walnut/codec';
import { createStorageIo } from '@walnut/storage-io';
import { SegmentedWal } from '../dist/index.js';

const N = Number(process.env.BENCH_RECORDS ?? 1_000_000);
// Encryption runs on a tenth of the records (per-frame AES-GCM is slow); rates are per record.
const ENC_N = Math.max(1000, Math.floor(N / 10));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BACKEND = process.env.BENCH_BACKEND ?? 'sync-fs';
const SIZE = 128;
const CHUNK = 1 << 20;
const payload = Buffer.alloc(SIZE);
for (let i = 0; i < SIZE; i++) payload[i] = (i * 37) & 0xff;
const FRAME = 8 + 12 + SIZE;
const MB = (N * FRAME) / 1e6;

function baselineWrite(path) {
  const fd = openSync(path, 'w', 0o600);
  const chunk = Buffer.allocUnsafe(CHUNK);
  let used = 0;
  for (let i = 1; i <= N; i++) {
    if (used + FRAME > CHUNK) {
      writeSync(fd, chunk, 0, used);
      used = 0;
    }
    const at = used;
    chunk.writeUInt32LE(FRAME - 8, at + 4);
    chunk[at + 8] = 1;
    chunk[at + 9] = 0;
    chunk.writeUInt16LE(0, at + 10);
    chunk.writeBigUInt64LE(BigInt(i), at + 12);
    payload.copy(chunk, at + 20);
    chunk.writeUInt32LE(crc32c(chunk.subarray(at + 4, at + FRAME)), at);
    used += FRAME;
  }
  writeSync(fd, chunk, 0, used);
  fsyncSync(fd);
  closeSync(fd);
}

function baselineRead(path) {
  const fd = openSync(path, 'r');
  let carry = Buffer.alloc(0);
  let position = 0;
  let count = 0;
  let bytes = 0;
  for (;;) {
    const fresh = Buffer.allocUnsafe(CHUNK);
    const got = readSync(fd, fresh, 0, CHUNK, position);
    if (got === 0) break;
    position += got;
    const buf =
      carry.length === 0 ? fresh.subarray(0, got) : Buffer.concat([carry, fresh.subarray(0, got)]);
    let at = 0;
    while (at + 8 <= buf.length) {
      const len = buf.readUInt32LE(at + 4);
      if (at + 8 + len > buf.length) break;
      if (crc32c(buf.subarray(at + 4, at + 8 + len)) !== buf.readUInt32LE(at))
        throw new Error('crc');
      const lsn = buf.readBigUInt64LE(at + 12);
      const body = buf.subarray(at + 20, at + 8 + len);
      if (lsn > 0n) bytes += body.length;
      count++;
      at += 8 + len;
    }
    carry = buf.subarray(at);
  }
  closeSync(fd);
  if (count !== N) throw new Error(`baseline read ${count} records`);
  return bytes;
}

async function walWrite(dir, encryption, n = N) {
  const io = createStorageIo({ backend: BACKEND });
  const wal = await SegmentedWal.open({ dir, io, ...(encryption ? { encryption } : {}) });
  const t0 = process.hrtime.bigint();
  const record = { payload };
  for (let i = 0; i < n; i++) wal.append(record);
  const durable = await wal.sync();
  const ns = Number(process.hrtime.bigint() - t0);
  if (durable !== BigInt(n)) throw new Error(`durable ${durable}`);
  await wal.close();
  await io.closeIo();
  return ns;
}

async function walReplay(dir, encryption, n = N) {
  const io = createStorageIo({ backend: BACKEND });
  const t0open = process.hrtime.bigint();
  const wal = await SegmentedWal.open({
    dir,
    io,
    readOnly: true,
    ...(encryption ? { encryption } : {}),
  });
  const openNs = Number(process.hrtime.bigint() - t0open);
  const t0 = process.hrtime.bigint();
  let count = 0;
  let bytes = 0;
  for await (const rec of wal.replay()) {
    bytes += rec.payload.length;
    count++;
  }
  const ns = Number(process.hrtime.bigint() - t0);
  if (count !== n) throw new Error(`replayed ${count}`);
  await wal.close();
  await io.closeIo();
  return { ns, openNs, bytes };
}

function timeSync(fn) {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0);
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (ns) =>
  `${(((N / ns) * 1e9) / 1e6).toFixed(2)} M rec/s, ${((MB / ns) * 1e9).toFixed(0)} MB/s`;

const ring = new KeyRing([[1, KeyRing.generateKey()]], 1);
const results = {
  baseWrite: [],
  baseRead: [],
  write: [],
  read: [],
  open: [],
  encWrite: [],
  encRead: [],
};
for (let round = 0; round < ROUNDS; round++) {
  const root = mkdtempSync(join(tmpdir(), 'walnut-bench-'));
  try {
    const file = join(root, 'baseline.log');
    results.baseWrite.push(timeSync(() => baselineWrite(file)));
    results.baseRead.push(timeSync(() => baselineRead(file)));
    rmSync(file);
    results.write.push(await walWrite(join(root, 'plain'), undefined));
    const r = await walReplay(join(root, 'plain'), undefined);
    results.read.push(r.ns);
    results.open.push(r.openNs);
    rmSync(join(root, 'plain'), { recursive: true });
    // Scaled to N records so that every line compares like with like.
    results.encWrite.push(((await walWrite(join(root, 'enc'), ring, ENC_N)) * N) / ENC_N);
    results.encRead.push(((await walReplay(join(root, 'enc'), ring, ENC_N)).ns * N) / ENC_N);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
const m = Object.fromEntries(Object.entries(results).map(([k, v]) => [k, median(v)]));
console.log(
  `@walnut/segmented bench: ${N} × ${SIZE} B records (${MB.toFixed(0)} MB framed), median of ${ROUNDS} rounds`,
);
console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, Node ${process.versions.node}, backend ${BACKEND}, dir ${tmpdir()}`,
);
console.log(`baseline write+fsync     ${rate(m.baseWrite)}`);
console.log(
  `SegmentedWal append+sync ${rate(m.write)}   ratio ${(m.baseWrite / m.write).toFixed(2)}×`,
);
console.log(`baseline read            ${rate(m.baseRead)}`);
console.log(
  `SegmentedWal replay      ${rate(m.read)}   ratio ${(m.baseRead / m.read).toFixed(2)}×   (open+recovery scan before it: ${(m.open / 1e6).toFixed(0)} ms)`,
);
console.log(`(encrypted runs: ${ENC_N} records, scaled)`);
console.log(
  `encrypted append+sync    ${rate(m.encWrite)}   ratio ${(m.baseWrite / m.encWrite).toFixed(2)}×   cost ${(m.encWrite / m.write).toFixed(2)}× plain`,
);
console.log(
  `encrypted replay         ${rate(m.encRead)}   ratio ${(m.baseRead / m.encRead).toFixed(2)}×   cost ${(m.encRead / m.read).toFixed(2)}× plain`,
);
