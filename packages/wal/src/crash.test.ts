import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, '..', 'test', 'fixtures', 'crash-writer.mjs');
const builtEntry = join(here, '..', 'dist', 'index.js');
const cycles = Number(process.env.WALNUT_CRASH_CYCLES ?? 50);
const SEGMENT_SIZE = 256 * 1024;
/** The child's StorageIo backend ('auto' picks io_uring where a ring can be created). */
const backend = process.env.WALNUT_CRASH_BACKEND ?? 'auto';

interface ChildRun {
  acked: Map<bigint, string>;
  stderr: string;
  exit: NodeJS.Signals | number | string | null;
}

/** Runs the writer until `killAfterMs` after it is ready, then SIGKILLs it. */
function runChild(dir: string, cycle: number, killAfterMs: number): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [fixture, dir, String(cycle), String(SEGMENT_SIZE), backend],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const acked = new Map<bigint, string>();
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
          clearTimeout(timer);
          timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else {
          const [lsn, hash] = line.split(' ');
          acked.set(BigInt(lsn!), hash!);
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
      resolve({ acked, stderr, exit: ready ? (signal ?? code) : `not ready: ${signal ?? code}` });
    });
  });
}

const hashOf = (payload: Uint8Array) =>
  createHash('sha256').update(payload).digest('hex').slice(0, 32);

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A log directory that goes through `count` kill/recover cycles. After each
 * cycle the parent recovers the log and checks that every record ever acknowledged is there with the same bytes, and that LSNs are contiguous from 1.
 */
async function killRecoverCycles(seed: number, count: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'walnut-crash-'));
  dirs.push(dir);
  const acknowledged = new Map<bigint, string>();
  let random = seed;
  const nextDelay = () => {
    random = (random * 1103515245 + 12345) >>> 0;
    return 20 + (random % 280);
  };
  for (let cycle = 0; cycle < count; cycle++) {
    const run = await runChild(dir, cycle, nextDelay());
    expect(run.exit, run.stderr).toBe('SIGKILL');
    for (const [lsn, hash] of run.acked) acknowledged.set(lsn, hash);

    const wal = await Wal.open(dir).segmentSize(SEGMENT_SIZE).build();
    const found = new Map<bigint, string>();
    let expectedLsn = 1n;
    await wal.replay(1n, (record) => {
      expect(record.lsn).toBe(expectedLsn);
      expectedLsn++;
      if (acknowledged.has(record.lsn)) found.set(record.lsn, hashOf(record.payload));
    });
    await wal.close();
    for (const [lsn, hash] of acknowledged) {
      expect(found.get(lsn), `cycle ${cycle}: acknowledged LSN ${lsn}`).toBe(hash);
    }
  }
  return acknowledged.size;
}

describe('process crashes (SIGKILL while 64 producers append with durability sync)', () => {
  it(`every acknowledged record survives ${cycles} kill/recover cycles`, async () => {
    if (!existsSync(builtEntry)) {
      throw new Error(
        'the crash test runs the built package: run `npx -y pnpm@10.34.9 run build` first',
      );
    }
    // One child at a time, and none runs while the parent recovers and checks the log.
    expect(await killRecoverCycles(0x2545f491, cycles)).toBeGreaterThan(cycles);
  }, 600_000);
});
