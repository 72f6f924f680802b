import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from '../wal.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, '..', '..', 'test', 'fixtures', 'cursor-consumer.mjs');
const builtEntry = join(here, '..', '..', 'dist', 'index.js');
const root = tempDir('walnut-cursor-crash-');
afterAll(removeTempDirs);

interface ConsumerRun {
  start: bigint;
  applied: bigint[];
  lastCommitted: bigint;
  exit: NodeJS.Signals | number | null;
  stderr: string;
}

/** Runs the consumer; SIGKILLs it (by pid) once it applied `killAfter` records, if given. */
function runConsumer(dir: string, stopAt: bigint, killAfter?: number): Promise<ConsumerRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, dir, 'worker', String(stopAt)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const run: ConsumerRun = {
      start: -1n,
      applied: [],
      lastCommitted: -1n,
      exit: null,
      stderr: '',
    };
    const guard = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 25_000);
    let pending = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
        const [what, value] = pending.slice(0, nl).split(' ');
        pending = pending.slice(nl + 1);
        const lsn = BigInt(value!);
        if (what === 'start') run.start = lsn;
        else if (what === 'committed') run.lastCommitted = lsn;
        else run.applied.push(lsn);
        if (killAfter !== undefined && run.applied.length === killAfter) {
          process.kill(child.pid!, 'SIGKILL');
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      run.stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(guard);
      run.exit = signal ?? code;
      resolve(run);
    });
  });
}

describe('a consumer in another process', () => {
  it('SIGKILLed mid-stream resumes at its last committed LSN + 1: every record applied at least once, none skipped', async () => {
    if (!existsSync(builtEntry)) {
      throw new Error(
        'this test runs the built package: run `npx -y pnpm@10.34.9 run build` first',
      );
    }
    const dir = join(root, 'log');
    const wal = await Wal.open(dir)
      .segmentSize(64 * 1024)
      .build();
    const append = (count: number) =>
      wal.appendMany(Array.from({ length: count }, (_, i) => Buffer.from(`job ${i}`)));
    await append(200);
    const applied = new Set<bigint>();
    let committed = 0n;
    let lastApplied = 0n;
    const kills = [37, 120, 1, 90];
    for (const [round, killAfter] of kills.entries()) {
      const appending = append(150);
      const run = await runConsumer(dir, 1n << 40n, killAfter);
      await appending;
      expect(run.exit, run.stderr).toBe('SIGKILL');
      // It starts where the last run's acknowledged commits left it, never past what it applied.
      expect(run.start, `round ${round}`).toBeGreaterThanOrEqual(committed);
      expect(run.start).toBeLessThanOrEqual(lastApplied);
      expect(run.applied[0]).toBe(run.start + 1n);
      expect(run.applied).toEqual(run.applied.map((_, i) => run.start + 1n + BigInt(i)));
      for (const lsn of run.applied) applied.add(lsn);
      lastApplied = run.applied.at(-1)!;
      if (run.lastCommitted >= 0n) committed = run.lastCommitted;
    }
    const last = wal.lastLsn;
    const finish = await runConsumer(dir, last);
    expect(finish.exit, finish.stderr).toBe(0);
    expect(finish.start).toBeGreaterThanOrEqual(committed);
    expect(finish.start).toBeLessThanOrEqual(lastApplied);
    for (const lsn of finish.applied) applied.add(lsn);
    expect(applied.size).toBe(Number(last));
    expect((await wal.cursors())[0]).toMatchObject({ name: 'worker', lsn: last, open: false });
    await wal.close();
  }, 120_000);

  it("holds the writer's retention back from another process", async () => {
    const dir = join(root, 'held');
    const wal = await Wal.open(dir)
      .segmentSize(4096)
      .retention({ maxBytes: 8192, intervalMs: 1 << 30 })
      .build();
    await wal.appendMany(Array.from({ length: 20 }, () => Buffer.alloc(100, 3)));
    const run = await runConsumer(dir, 5n);
    expect(run.exit, run.stderr).toBe(0);
    await wal.appendMany(Array.from({ length: 300 }, () => Buffer.alloc(100, 4)));
    const report = await wal.applyRetention();
    expect(report.heldBy).toBe('worker');
    expect(wal.floorLsn).toBeLessThanOrEqual(6n);
    await wal.close();
  }, 60_000);
});
