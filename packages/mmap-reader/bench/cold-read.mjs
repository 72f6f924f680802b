// How a cold page cache is best read (issue #40): mmap with each madvise hint against large
// read()s, each variant in a fresh process after `drop_caches` (root only), rounds interleaved.
// Every variant verifies every frame's CRC32C with the codec's frame walk (its addon's) and
// builds a view per frame, so the CPU work beside the I/O is the same for all.
//   node bench/cold-read.mjs [dir] [rounds]   (dir: a log directory; default a fresh 141 MB log)
// Run `pnpm --filter @walnut/mmap-reader build` first. Options (env): COLD=0 for warm rounds.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIB = 1024 * 1024;
const RUN_FRAMES = 4096;
const HEADER = 64;

/** Each variant reads every segment of `dir` once; returns the frames seen. */
const VARIANTS = {
  'mmap, SEQUENTIAL + POPULATE_READ 4 MiB ahead (today)': (addon, path) =>
    mapped(addon, path, { populate: 4 * MIB }),
  'mmap, SEQUENTIAL, page faults only': (addon, path) => mapped(addon, path, {}),
  'mmap, + WILLNEED whole file at open': (addon, path) =>
    mapped(addon, path, { populate: 4 * MIB, willneedAll: true }),
  'mmap, + WILLNEED 16 MiB window ahead': (addon, path) =>
    mapped(addon, path, { populate: 4 * MIB, willneed: 16 * MIB }),
  'mmap, + WILLNEED 32 MiB window ahead': (addon, path) =>
    mapped(addon, path, { populate: 4 * MIB, willneed: 32 * MIB }),
  'read() 1 MiB into one reused buffer': (addon, path) => readInto(addon, path, MIB, true),
  'read() 8 MiB into one reused buffer': (addon, path) => readInto(addon, path, 8 * MIB, true),
  'read() 1 MiB into fresh buffers': (addon, path) => readInto(addon, path, MIB, false),
};

const table = new Uint32Array(RUN_FRAMES * 2);
const status = new Float64Array(2);
let digest = 0;
/** The codec's walkFrames, imported by the child. */
let walkFrames;

/** A view and a touch per frame: the part of replay's per-record work that reads the bytes. */
function visit(ab, base, count) {
  for (let i = 0; i < count; i++) {
    const view = new Uint8Array(ab, base + table[2 * i] + 8, table[2 * i + 1]);
    digest = (digest ^ view[0] ^ view[view.length - 1]) | 0;
  }
}

function mapped(addon, path, { populate = 0, willneed = 0, willneedAll = false }) {
  const [mapping, size] = addon.mapFile(path);
  const view = Buffer.from(mapping);
  if (willneedAll) addon.advise(mapping, 0, size, 2);
  let at = HEADER;
  let populated = 0;
  let hinted = 0;
  let frames = 0;
  for (;;) {
    if (willneed > 0 && hinted - at < willneed / 2 && hinted < size) {
      const from = Math.max(hinted, at);
      addon.advise(mapping, from, willneed, 2);
      hinted = from + willneed;
    }
    if (populate > 0 && populated - at < populate / 2 && populated < size) {
      const from = Math.max(populated, at);
      addon.advise(mapping, from, populate, 3);
      populated = from + populate;
    }
    const n = walkFrames(view, at, size, 1 << 30, status, table);
    visit(mapping, at, n);
    frames += n;
    if (status[0] !== 0 || n === 0) return frames; // 0: the table is full, more follow
    at = status[1];
  }
}

function readInto(_addon, path, chunk, reuse) {
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    let buf = Buffer.allocUnsafeSlow(chunk);
    let filled = 0;
    let position = HEADER;
    let frames = 0;
    for (;;) {
      const got = readSync(fd, buf, filled, buf.length - filled, position);
      position += got;
      filled += got;
      let at = 0;
      for (;;) {
        const n = walkFrames(buf, at, filled, 1 << 30, status, table);
        visit(buf.buffer, buf.byteOffset + at, n);
        frames += n;
        at = status[1];
        if (status[0] !== 0 || n === 0) break;
      }
      if (got === 0 || position >= size) return frames;
      const next = reuse ? buf : Buffer.allocUnsafeSlow(chunk);
      buf.copy(next, 0, at, filled);
      buf = next;
      filled -= at;
    }
  } finally {
    closeSync(fd);
  }
}

function segments(dir) {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .sort()
    .map((name) => join(dir, name));
}

async function writeLog(dir) {
  const codec = await import('@walnut/codec');
  const records = 1_000_000;
  const payload = { payload: Buffer.alloc(128, 1) };
  const frame = codec.recordFrameSize(payload);
  const bytes = Buffer.alloc(HEADER + frame * records);
  codec
    .encodeFileHeader({
      firstLsn: 1n,
      salt: Buffer.alloc(16, 7),
      cipher: 'none',
      fileKind: 'segment',
      keyId: 0,
    })
    .copy(bytes, 0);
  let at = HEADER;
  for (let i = 0; i < records; i++)
    at += codec.encodeRecordFrame(bytes, at, BigInt(i + 1), payload);
  writeFileSync(join(dir, codec.segmentFileName(1n)), bytes);
  execFileSync('sync');
}

const self = fileURLToPath(import.meta.url);
if (process.argv[2] === '--child') {
  const [, , , name, dir, cold] = process.argv;
  const require = createRequire(import.meta.url);
  const addon = require(join(self, '../../build/Release/walnut_mmap.node'));
  ({ walkFrames } = await import('@walnut/codec'));
  if (cold === '1') {
    execFileSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  }
  const cpu0 = process.cpuUsage();
  const start = performance.now();
  let frames = 0;
  for (const path of segments(dir)) frames += VARIANTS[name](addon, path);
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu0);
  process.stdout.write(JSON.stringify({ ms, frames, cpuMs: (used.user + used.system) / 1000 }));
} else {
  const rounds = Number(process.argv[3] ?? 5);
  const cold = process.env.COLD !== '0';
  let dir = process.argv[2];
  const own = dir === undefined;
  if (own) {
    dir = mkdtempSync(join(tmpdir(), 'walnut-cold-read-'));
    await writeLog(dir);
  }
  const names = Object.keys(VARIANTS);
  const times = new Map(names.map((name) => [name, []]));
  const cpu = new Map(names.map((name) => [name, []]));
  const expected = Number(process.env.FRAMES ?? 1_000_000);
  try {
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < names.length; i++) {
        const name = names[(i + round) % names.length];
        const child = spawnSync(process.execPath, [self, '--child', name, dir, cold ? '1' : '0'], {
          encoding: 'utf8',
        });
        if (child.status !== 0) throw new Error(child.stderr);
        const out = JSON.parse(child.stdout);
        if (out.frames !== expected) throw new Error(`${name} saw ${out.frames} frames`);
        times.get(name).push(out.ms);
        cpu.get(name).push(out.cpuMs);
      }
    }
  } finally {
    if (own) rmSync(dir, { recursive: true, force: true });
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `${cold ? 'cold' : 'warm'}, ${rounds} rounds, medians of wall clock and of CPU time (user + system):`,
  );
  for (const [name, xs] of times)
    console.log(
      `${median(xs).toFixed(1).padStart(8)} ms wall ${median(cpu.get(name)).toFixed(1).padStart(7)} ms CPU  ${name}  (wall: ${xs.map((x) => x.toFixed(0)).join(' ')})`,
    );
}
