/**
 * What handing out a record costs, apart from reading the log (`pnpm --filter @walnut/bench
 * bench:record-cost [rounds]`): a million 128-byte records already in memory, each variant
 * in a fresh process (as W4 runs them, JIT warm-up included), rounds interleaved, medians
 * printed with their ratio to the floor's loop of the same run.
 *
 * - `floor`: the node:fs floor's own parse loop (a view per payload, its CRC32C, the visit).
 * - `view`: only the Buffer view Walnut hands out as a payload, and the visit.
 * - `record`: Walnut's whole record as replay builds it (codec's `plainRecordAt`: a bigint
 *   LSN, the view and a plain object), and the visit. No CRC: the codec's frame walk checks
 *   CRCs in bulk, in native code, before records are built.
 *
 * W4's floor is the `floor` loop plus its reads, so this bounds what any replay that hands
 * out `WalRecord`s can reach against it (decision 0409).
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  BufferView,
  crc32c,
  encodeRecordFrame,
  FRAME_HEADER_SIZE,
  plainRecordLsn,
  RecordCursor,
} from '@walnut/codec';
import { encodeFrame, parseFrames } from './floor/framing.js';

const RECORDS = 1_000_000;
const PAYLOAD = 128;
const VARIANTS = ['floor', 'view', 'record'] as const;
type Variant = (typeof VARIANTS)[number];

let digest = 0;
let seen = 0;
function visit(payload: Uint8Array): void {
  digest = Math.imul(digest ^ payload.byteLength ^ payload[0]!, 0x01000193);
  seen++;
}

/** The floor's frames of every payload, back to back. */
function floorFrames(payload: Buffer): Buffer {
  const buf = Buffer.allocUnsafeSlow(RECORDS * (8 + PAYLOAD));
  let at = 0;
  for (let i = 0; i < RECORDS; i++) at = encodeFrame(buf, at, payload, crc32c);
  return buf;
}

/** Walnut's record frames (version 2, with a time), and where each body starts and ends. */
function walnutFrames(payload: Buffer) {
  const buf = Buffer.allocUnsafeSlow(RECORDS * (64 + PAYLOAD));
  const bounds = new Uint32Array(RECORDS * 2);
  let at = 0;
  for (let i = 0; i < RECORDS; i++) {
    const next = at + encodeRecordFrame(buf, at, BigInt(i + 1), { payload }, 1_000 + i);
    bounds[2 * i] = at + FRAME_HEADER_SIZE;
    bounds[2 * i + 1] = next;
    at = next;
  }
  return { buf, bounds };
}

/** Runs one variant; returns its milliseconds. Building the input is not timed. */
function child(variant: Variant): number {
  const payload = Buffer.alloc(PAYLOAD, 0x61);
  if (variant === 'floor') {
    const buf = floorFrames(payload);
    const t0 = performance.now();
    const end = parseFrames(buf, buf.length, crc32c, visit);
    const ms = performance.now() - t0;
    if (end !== buf.length) throw new Error('the floor stopped early');
    return ms;
  }
  const { buf, bounds } = walnutFrames(payload);
  const cursor = new RecordCursor();
  cursor.useFile({ version: 2, createdAtMs: Date.now() });
  const arrayBuffer = buf.buffer as ArrayBuffer;
  const base = buf.byteOffset;
  const t0 = performance.now();
  for (let i = 0; i < RECORDS; i++) {
    const start = bounds[2 * i]!;
    const end = bounds[2 * i + 1]!;
    const lsn = plainRecordLsn(buf, start, end);
    if (lsn !== i + 1) throw new Error(`record ${i + 1} is not plain`);
    if (variant === 'record') visit(cursor.plainRecordAt(buf, start, end, lsn).payload);
    else visit(new BufferView(arrayBuffer, base + end - PAYLOAD, PAYLOAD));
  }
  return performance.now() - t0;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

function parent(rounds: number): void {
  const times = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]));
  const script = fileURLToPath(import.meta.url);
  for (let round = 0; round < rounds; round++) {
    for (const variant of VARIANTS) {
      const run = spawnSync(process.execPath, [script, '--variant', variant], {
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`${variant} failed: ${run.stderr}`);
      times.get(variant)!.push(Number(run.stdout.trim()));
    }
  }
  const floor = median(times.get('floor')!);
  console.log(
    `${RECORDS.toLocaleString('en')} records of ${PAYLOAD} B in memory, ${rounds} rounds, a fresh process each; ` +
      `Node ${process.version}, ${os.cpus()[0]?.model.trim()}, ${os.cpus().length} cores, load ${os.loadavg()[0]!.toFixed(1)}`,
  );
  for (const variant of VARIANTS) {
    const all = times.get(variant)!;
    const ms = median(all);
    console.log(
      `${variant.padEnd(7)} ${ms.toFixed(1).padStart(6)} ms  ${(ms / floor).toFixed(2)} of the floor's loop  (min ${Math.min(...all).toFixed(1)}, max ${Math.max(...all).toFixed(1)})`,
    );
  }
}

const at = process.argv.indexOf('--variant');
if (at > 0) {
  const variant = process.argv[at + 1] as Variant;
  if (!VARIANTS.includes(variant)) throw new Error(`unknown variant ${variant}`);
  const ms = child(variant);
  if (seen !== RECORDS) throw new Error(`visited ${seen} records`);
  process.stdout.write(`${ms}\n`);
} else {
  parent(Number(process.argv[2] ?? 7));
}
