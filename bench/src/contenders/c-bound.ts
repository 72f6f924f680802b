/**
 * The C bound (issue #63): `native/uring-bound.c`, built on demand with the system compiler,
 * does for W2 and W3 only what io_uring needs for a durable append, so the distance between
 * it and the Walnut rows is what Walnut, libuv and JavaScript add. It writes the floor's
 * frames into a preallocated file, as Walnut writes into preallocated segments; its records
 * are not the workload's payloads (nothing replays them), and it has no recovery, no lock and
 * no reads: a measuring stick, not a log.
 */
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import {
  type LoadedNativeContender,
  type NativeContenderPlugin,
  NotAvailable,
} from '../contender.js';
import type { DriverTask, RunMetrics } from '../drivers.js';
import { BENCH_ROOT } from './versions.js';

/** The variants of uring-bound.c; `boundBreakdown` (bench:bound) runs every one. */
export const BOUND_VARIANTS = [
  'pwrite-dsync',
  'dsync-punt',
  'dsync-inline',
  'direct-dsync',
  'write-fsync',
  'punt-enter',
  'punt-spin',
] as const;
export type BoundVariant = (typeof BOUND_VARIANTS)[number];

/** What the program prints: RunMetrics' fields and the per-round pieces. */
export interface BoundResult {
  readonly variant: BoundVariant;
  readonly records: number;
  readonly rounds: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly submitP50Us: number;
  readonly waitP50Us: number;
  readonly reapP50Us: number;
  readonly doneInline: number;
}

const SOURCE = join(BENCH_ROOT, 'native', 'uring-bound.c');

/** storage-io's raw ring (no liburing), so the bound sets up its ring as the addon does. */
function ringSources(): string {
  const manifest = createRequire(import.meta.url).resolve('@walnut/storage-io/package.json');
  return join(dirname(manifest), 'native');
}

/**
 * The program's path, compiled once per source version into the OS temp dir. NotAvailable
 * where it cannot be: not Linux, no C compiler, or headers without io_uring.
 */
export function buildBound(): string {
  if (process.platform !== 'linux') throw new NotAvailable('io_uring is Linux only');
  const ring = ringSources();
  const inputs = [SOURCE, join(ring, 'ring.c'), join(ring, 'ring.h')];
  const hash = createHash('sha256');
  for (const input of inputs) hash.update(readFileSync(input));
  const dir = join(os.tmpdir(), 'walnut-bench-bound');
  const binary = join(dir, `uring-bound-${hash.digest('hex').slice(0, 16)}`);
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const partial = `${binary}.${process.pid}`;
  const compiler = process.env.CC ?? 'cc';
  try {
    execFileSync(compiler, ['-O2', '-I', ring, '-o', partial, SOURCE, join(ring, 'ring.c')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    const why = stderr.split('\n').slice(0, 2).join(' / ') || (error as Error).message;
    throw new NotAvailable(`${compiler} could not build native/uring-bound.c: ${why}`);
  }
  renameSync(partial, binary);
  return binary;
}

/** One run of `variant`: `producers` records a round (1 is W2's shape). */
export async function runBound(
  binary: string,
  file: string,
  variant: BoundVariant,
  records: number,
  recordSize: number,
  producers: number,
): Promise<BoundResult> {
  const args = [file, variant, String(records), String(recordSize), String(producers)];
  try {
    const { stdout } = await promisify(execFile)(binary, args);
    return JSON.parse(stdout) as BoundResult;
  } catch (error) {
    const stderr = String((error as { stderr?: string }).stderr ?? '').trim();
    // A kernel without io_uring (or one that forbids it) is a machine fact, not a failure.
    if (stderr.includes('io_uring_setup')) throw new NotAvailable(stderr);
    throw new Error(stderr || (error as Error).message);
  }
}

function boundContender(id: string, label: string, variant: BoundVariant): NativeContenderPlugin {
  return {
    id,
    label,
    workloads: ['W2', 'W3'],
    syncsInvisibleToStrace: true,
    async load(): Promise<LoadedNativeContender> {
      const binary = buildBound();
      return {
        versions: { cc: compilerVersion() },
        notes: [`uring-bound.c, variant ${variant}; frames into a preallocated file`],
        async run(task: DriverTask): Promise<RunMetrics> {
          const file = join(task.dir, 'bound.bin');
          const r = await runBound(
            binary,
            file,
            variant,
            task.records,
            task.recordSize,
            task.producers,
          );
          return {
            seconds: r.seconds,
            records: r.records,
            recordsPerSec: r.recordsPerSec,
            mbPerSec: (r.records * task.recordSize) / 1e6 / r.seconds,
            p50Us: r.p50Us,
            p99Us: r.p99Us,
            selfReportedSyncs: r.rounds,
          };
        },
      };
    },
  };
}

function compilerVersion(): string {
  try {
    const first = execFileSync(process.env.CC ?? 'cc', ['--version'], { encoding: 'utf8' });
    return first.split('\n')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** What Walnut's default backend asks of the ring: a buffered RWF_DSYNC write sent to io-wq. */
export const cBound = boundContender(
  'c-bound',
  'C bound (io_uring dsync write, epoll)',
  'dsync-punt',
);
/** The same with O_DIRECT, what `directIo(true)` asks. */
export const cBoundDirect = boundContender(
  'c-bound-direct',
  'C bound (io_uring O_DIRECT dsync write, epoll)',
  'direct-dsync',
);
