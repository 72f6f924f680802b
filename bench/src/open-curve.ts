/**
 * Open time against log size (`pnpm --filter @walnut/bench run bench:open-curve [--quick]`):
 * logs of 1, 4 and 16 GiB, the same newest segment in each, opened and closed by a
 * SegmentedWal in alternating rounds; prints each size's median and its ratio to the
 * smallest. Open reads only the newest segment (decision 0311), so the ratios should stay
 * near 1. The sealed segments are sparse files with a real header: open reads no more of
 * them, and the disk need not hold 21 GiB.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeFileHeader, segmentFileName } from '@walnut/codec';
import { SegmentedWal } from '@walnut/segmented';
import { median } from './stats.js';

const GIB = 1024 ** 3;
const SEGMENT = 64 * 1024 * 1024;
/** Records a 64 MiB segment of 128-byte records holds (148-byte frames). */
const PER_SEGMENT = Math.floor((SEGMENT - 64) / 148);
const PAYLOAD = Buffer.alloc(128, 0x61);

const quick = process.argv.includes('--quick');
const sizes = quick ? [1, 2] : [1, 4, 16];
const rounds = quick ? 2 : 15;
/** Records in the newest segment: half of one, the same in every log. */
const NEWEST_RECORDS = quick ? 20_000 : Math.floor(PER_SEGMENT / 2);

/** A segment file holding only its header, sparse up to `size` bytes. */
function writeSegmentFile(dir: string, firstLsn: bigint, size: number): void {
  const fd = openSync(join(dir, segmentFileName(firstLsn)), 'w');
  const header = encodeFileHeader({
    firstLsn,
    salt: randomBytes(16),
    cipher: 'none',
    fileKind: 'segment',
    keyId: 0,
  });
  writeSync(fd, header, 0, header.length, 0);
  if (size > header.length) ftruncateSync(fd, size);
  closeSync(fd);
}

/** A log of `gib` GiB: sparse sealed segments, then a newest one written by the writer. */
async function buildLog(root: string, gib: number): Promise<string> {
  const dir = join(root, `log-${gib}g`);
  const sealed = (gib * GIB) / SEGMENT - 1;
  mkdirSync(dir);
  for (let i = 0; i < sealed; i++) writeSegmentFile(dir, 1n + BigInt(i * PER_SEGMENT), SEGMENT);
  // The newest starts where the sealed ones end (each one's last LSN is the next one's first
  // minus one); the writer fills it.
  writeSegmentFile(dir, 1n + BigInt(sealed * PER_SEGMENT), 0);
  const wal = await SegmentedWal.open({ dir, segmentTargetSize: SEGMENT });
  for (let i = 0; i < NEWEST_RECORDS; i++) wal.appendPayload(PAYLOAD);
  await wal.sync();
  await wal.close();
  return dir;
}

async function openOnce(dir: string): Promise<number> {
  const t0 = performance.now();
  const wal = await SegmentedWal.open({ dir, segmentTargetSize: SEGMENT });
  const ms = performance.now() - t0;
  const segments = (await wal.listSegments()).length;
  await wal.close();
  if (segments < 1) throw new Error(`${dir}: no segments`);
  return ms;
}

const root = mkdtempSync(join(process.env.WALNUT_BENCH_DIR ?? tmpdir(), 'walnut-open-curve-'));
try {
  const dirs = new Map<number, string>();
  for (const gib of sizes) dirs.set(gib, await buildLog(root, gib));
  const times = new Map<number, number[]>(sizes.map((gib) => [gib, []]));
  // One warm-up open each, then alternating rounds, each starting at another size.
  for (const gib of sizes) await openOnce(dirs.get(gib)!);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < sizes.length; k++) {
      const gib = sizes[(r + k) % sizes.length]!;
      times.get(gib)!.push(await openOnce(dirs.get(gib)!));
    }
  }
  const first = times.get(sizes[0]!)!;
  const [base, baseMin] = [median(first), Math.min(...first)];
  console.log(
    `open of a log whose newest segment holds ${NEWEST_RECORDS} records of 128 B (warm page cache), ${rounds} alternating rounds`,
  );
  console.log(
    '| log size | segments | open: median | min | max | ratio to the smallest: median | min |',
  );
  console.log(
    '| -------: | -------: | -----------: | --: | --: | ----------------------------: | --: |',
  );
  for (const gib of sizes) {
    const t = times.get(gib)!;
    const [m, lo, hi] = [median(t), Math.min(...t), Math.max(...t)];
    console.log(
      `| ${gib} GiB | ${(gib * GIB) / SEGMENT} | ${m.toFixed(1)} ms | ${lo.toFixed(1)} ms | ${hi.toFixed(1)} ms | ${(m / base).toFixed(2)}× | ${(lo / baseMin).toFixed(2)}× |`,
    );
  }
} finally {
  rmSync(root, { recursive: true, force: true });
}
