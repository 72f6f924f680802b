import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { crashPayload } from '../test/fixtures/crash-payload.mjs';
import { Wal } from './wal.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, '..', 'test', 'fixtures', 'crash-writer.mjs');
const builtEntry = join(here, '..', 'dist', 'index.js');
const cycles = Number(process.env.WALNUT_CRASH_CYCLES ?? 50);
const SEGMENT_SIZE = 256 * 1024;
/** The child's StorageIo backend ('auto' picks io_uring where a ring can be created). */
const backend = process.env.WALNUT_CRASH_BACKEND ?? 'auto';

/** How the child writes: both durabilities promise that an acknowledged record outlives a crash of the process. */
interface Variant {
  readonly directIo: boolean;
  readonly durability: 'sync' | 'flush';
}

interface ChildRun {
  /** LSN → which record it is (see `recordId`). */
  acked: Map<bigint, number>;
  stderr: string;
  exit: NodeJS.Signals | number | string | null;
  /** The child's stats().storage.directIo.state. */
  directIo: string;
}

/** Runs the writer until `killAfterMs` after it is ready, then SIGKILLs it. */
function runChild(
  dir: string,
  cycle: number,
  killAfterMs: number,
  { directIo, durability }: Variant,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const writes = directIo ? 'direct' : 'buffered';
    const child = spawn(
      process.execPath,
      [fixture, dir, String(cycle), String(SEGMENT_SIZE), backend, writes, durability],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let directState = '';
    const acked = new Map<bigint, number>();
    let pending = '';
    let stderr = '';
    let ready = false;
    // A child that never gets ready (stuck opening the log) is killed and reported.
    let timer: NodeJS.Timeout | undefined = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      let newline = pending.indexOf('\n');
      while (newline >= 0) {
        const line = pending.slice(0, newline);
        pending = pending.slice(newline + 1);
        if (line.startsWith('ready')) {
          ready = true;
          directState = line.split(' ')[2] ?? '';
          clearTimeout(timer);
          timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else {
          const [lsn, producer, i] = line.split(' ').map(Number);
          acked.set(BigInt(lsn!), recordId(cycle, producer!, i!));
        }
        newline = pending.indexOf('\n');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        acked,
        stderr,
        exit: ready ? (signal ?? code) : `not ready: ${signal ?? code}`,
        directIo: directState,
      });
    });
  });
}

/** Cycle, producer (< 64) and index (< 2048) of an appended record, packed into one number. */
const recordId = (cycle: number, producer: number, i: number) => (cycle * 64 + producer) * 2048 + i;

function expectedPayload(id: number): Buffer {
  return crashPayload(Math.floor(id / (64 * 2048)), Math.floor(id / 2048) % 64, id % 2048);
}

afterAll(removeTempDirs);

/**
 * A log directory that goes through `count` kill/recover cycles. After each
 * cycle the parent recovers the log and checks that every record ever acknowledged is there with the same bytes, and that LSNs are contiguous from 1.
 */
async function killRecoverCycles(seed: number, count: number, variant: Variant): Promise<number> {
  const { directIo } = variant;
  const dir = tempDir('walnut-crash-');
  const acknowledged = new Map<bigint, number>();
  /** Each record's time as first replayed: a crash and a recovery never change it. */
  const times = new Map<bigint, number>();
  let random = seed;
  const nextDelay = () => {
    random = (random * 1103515245 + 12345) >>> 0;
    return 20 + (random % 280);
  };
  for (let cycle = 0; cycle < count; cycle++) {
    const run = await runChild(dir, cycle, nextDelay(), variant);
    expect(run.exit, run.stderr).toBe('SIGKILL');
    expect(run.directIo).toBe(directIo ? 'on' : 'off');
    for (const [lsn, id] of run.acked) acknowledged.set(lsn, id);

    const wal = await Wal.open(dir).segmentSize(SEGMENT_SIZE).directIo(directIo).build();
    let expectedLsn = 1n;
    let matched = 0;
    let firstProblem: string | null = null;
    let lastTime = 0;
    // Plain comparisons per record, one expect() per cycle: the log grows every cycle, and
    // an expect() (or a hash) per record made this test quadratic.
    await wal.replay(1n, (record) => {
      if (record.lsn !== expectedLsn) {
        firstProblem ??= `LSN ${record.lsn} where ${expectedLsn} was expected`;
      }
      expectedLsn = record.lsn + 1n;
      const time = record.time;
      if (time === undefined || time < lastTime) {
        firstProblem ??= `LSN ${record.lsn} has time ${time}, after ${lastTime} before it`;
      } else lastTime = time;
      const seen = times.get(record.lsn);
      if (seen === undefined) times.set(record.lsn, time!);
      else if (seen !== time) firstProblem ??= `LSN ${record.lsn} had time ${seen}, now ${time}`;
      const id = acknowledged.get(record.lsn);
      if (id === undefined) return;
      if (Buffer.compare(record.payload, expectedPayload(id)) === 0) matched++;
      else firstProblem ??= `acknowledged LSN ${record.lsn} holds other bytes`;
    });
    await wal.close();
    if (matched < acknowledged.size) {
      const missing = [...acknowledged.keys()].find((lsn) => lsn >= expectedLsn);
      firstProblem ??= `acknowledged LSN ${missing} is missing (the log ends at ${expectedLsn - 1n})`;
    }
    expect(firstProblem, `cycle ${cycle}`).toBeNull();
    expect(matched).toBe(acknowledged.size);
    // A cycle's records the parent saw but the crash later cut off (unacknowledged) go.
    for (const lsn of times.keys()) if (lsn >= expectedLsn) times.delete(lsn);
  }
  return acknowledged.size;
}

describe.each([
  { writes: 'through the page cache', directIo: false, durability: 'sync' as const },
  { writes: 'with direct I/O', directIo: true, durability: 'sync' as const },
  // Acknowledged once written to the operating system: with small segments many rollovers
  // run, whose files are named only after their predecessors were synced.
  { writes: 'through the page cache', directIo: false, durability: 'flush' as const },
])(
  'process crashes (SIGKILL while 64 producers append with durability $durability, a quarter through appendMany), writing $writes',
  (variant) => {
    it(`every acknowledged record survives ${cycles} kill/recover cycles`, async () => {
      if (!existsSync(builtEntry)) {
        throw new Error(
          'the crash test runs the built package: run `npx -y pnpm@10.34.9 run build` first',
        );
      }
      // One child at a time, and none runs while the parent recovers and checks the log.
      expect(await killRecoverCycles(0x2545f491, cycles, variant)).toBeGreaterThan(cycles);
    }, 600_000);
  },
);
