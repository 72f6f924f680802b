import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyncFsStorageIo } from '@walnut/storage-io';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { SegmentedWal } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = join(here, '..');
const CHILD = join(here, 'fixtures', 'crash-child.mjs');
const CYCLES = Number(process.env.WALNUT_CRASH_CYCLES ?? 50);
// sync-fs by default: see README "What the tests prove" for why not io_uring yet.
const BACKEND = process.env.WALNUT_CRASH_BACKEND ?? 'sync-fs';

/** The child runs plain Node on dist/: refuse to test a missing or stale build. */
function checkBuilt(): void {
  const newestSource = (dir: string): number =>
    Math.max(
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory()
          ? newestSource(join(dir, e.name))
          : e.name.endsWith('.test.ts')
            ? 0
            : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  for (const name of ['codec', 'storage-io', 'segmented']) {
    const dist = join(pkg, '..', name, 'dist', 'index.js');
    if (!existsSync(dist)) {
      throw new Error(`${dist} is missing: run \`npx -y pnpm@10.34.9 run build\` before this test`);
    }
  }
  const dist = join(pkg, 'dist', 'index.js');
  if (statSync(dist).mtimeMs < newestSource(join(pkg, 'src'))) {
    throw new Error(`${dist} is older than src/: run \`npx -y pnpm@10.34.9 run build\` first`);
  }
}

const hash = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex').slice(0, 16);

interface CycleResult {
  acked: Map<bigint, string>;
  exitSignal: NodeJS.Signals | null;
  backend: string;
  /** The child's stats().directIo.state. */
  directIo: string;
}

/** Runs the child until a random moment after its first acknowledgement, then SIGKILLs it. */
function runChild(
  dir: string,
  seed: number,
  killAfterMs: number,
  directIo: boolean,
): Promise<CycleResult> {
  return new Promise((resolve, reject) => {
    const writes = directIo ? 'direct' : 'buffered';
    const child: ChildProcess = spawn(
      process.execPath,
      [CHILD, dir, String(seed), BACKEND, writes],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const acked = new Map<bigint, string>();
    let backend = '';
    let directState = '';
    let partial = '';
    let stderr = '';
    let timer: NodeJS.Timeout | null = null;
    const armKill = () => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    };
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b, c] = line.split(' ');
        if (kind === 'A') {
          acked.set(BigInt(a!), b!);
          armKill();
        } else if (kind === 'R') {
          backend = b!;
          directState = c!;
        }
      }
    });
    child.stderr!.on('data', (d) => {
      stderr += String(d);
    });
    // A child that never acknowledges anything is killed too, and fails the check below.
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (timer !== null) clearTimeout(timer);
      if (signal !== 'SIGKILL') {
        reject(new Error(`child exited by itself (code ${code}): ${stderr}`));
        return;
      }
      if (acked.size === 0) {
        reject(
          new Error(
            `the child acknowledged nothing in 30 s (backend ${backend || 'not opened'}): ${stderr}`,
          ),
        );
        return;
      }
      resolve({ acked, exitSignal: signal, backend, directIo: directState });
    });
  });
}

describe.each([
  { writes: 'through the page cache', directIo: false },
  { writes: 'with direct I/O', directIo: true },
])('process crash (SIGKILL at random moments), writing $writes', ({ directIo }) => {
  afterAll(removeTempDirs);

  /** One log directory killed and reopened `cycles` times; returns how many records were acknowledged. */
  async function lane(cycles: number, seed: number): Promise<number> {
    const dir = tempDir('walnut-crash-');
    const acked = new Map<bigint, string>();
    let rngState = seed >>> 0;
    const random = () => {
      rngState = (Math.imul(rngState, 1664525) + 1013904223) >>> 0;
      return rngState / 2 ** 32;
    };
    let totalAcked = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      const result = await runChild(
        dir,
        Math.floor(random() * 2 ** 31),
        Math.floor(random() * 120),
        directIo,
      );
      expect(result.directIo).toBe(directIo ? 'on' : 'off');
      for (const [lsn, h] of result.acked) acked.set(lsn, h);
      totalAcked += result.acked.size;

      const wal = await SegmentedWal.open({ dir, io: new SyncFsStorageIo(), directIo });
      const floor = wal.floorLsn;
      let expected = floor;
      for await (const rec of wal.replay()) {
        expect(rec.lsn).toBe(expected);
        const want = acked.get(rec.lsn);
        if (want !== undefined) expect(hash(rec.payload), `payload of LSN ${rec.lsn}`).toBe(want);
        expected++;
      }
      const last = expected - 1n;
      for (const lsn of acked.keys()) {
        if (lsn >= floor) {
          expect(
            lsn,
            `acknowledged LSN ${lsn} is missing (log ends at ${last})`,
          ).toBeLessThanOrEqual(last);
        } else {
          acked.delete(lsn);
        }
      }
      // Appending continues where the log ends.
      const payload = Buffer.from(`parent after cycle ${cycle}`);
      expect(wal.append({ payload })).toBe(last + 1n);
      expect(await wal.sync()).toBe(last + 1n);
      acked.set(last + 1n, hash(payload));
      await wal.close();
    }
    return totalAcked;
  }

  it(`every acknowledged record survives ${CYCLES} kills, byte for byte, and appending continues`, {
    timeout: 600_000,
  }, async () => {
    checkBuilt();
    const seed = Number(process.env.WALNUT_CRASH_SEED ?? Date.now());
    // Two logs side by side: a cycle mostly waits for a Node process to start.
    const half = Math.ceil(CYCLES / 2);
    const acked = await Promise.all([lane(half, seed), lane(CYCLES - half, seed + 1)]);
    expect(acked[0]! + acked[1]!).toBeGreaterThan(CYCLES);
  });
});
