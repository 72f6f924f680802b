import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

const fixture = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'test',
  'fixtures',
  'open-writer.mjs',
);
const root = tempDir('walnut-wal-lock-');
afterAll(removeTempDirs);
const running = new Set<ChildProcess>();
afterEach(() => {
  for (const proc of running) proc.kill('SIGKILL');
  running.clear();
});

type Outcome =
  | { ok: true; pid: number; lsn: string }
  | { ok: false; code: string; message: string };

/** Another program writing the log, with the native addon turned off (no flock). */
function writer(
  dir: string,
  mode: 'hold' | 'try',
): Promise<{ outcome: Outcome; process: ChildProcess }> {
  const proc = spawn(process.execPath, [fixture, dir, mode], {
    env: { ...process.env, WALNUT_STORAGE_IO_NATIVE: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(proc);
  return new Promise((resolve, reject) => {
    let out = '';
    proc.stdout!.setEncoding('utf8');
    proc.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const end = out.indexOf('\n');
      if (end >= 0) resolve({ outcome: JSON.parse(out.slice(0, end)) as Outcome, process: proc });
    });
    proc.on('error', reject);
    proc.on('close', (code, signal) =>
      reject(new Error(`writer ended (${signal ?? code}) before reporting`)),
    );
  });
}

describe('one writer per log, without the native addon', () => {
  it('refuses a second writer process, and lets one in after the first was killed', async () => {
    const dir = join(root, 'log');
    const first = await writer(dir, 'hold');
    expect(first.outcome).toMatchObject({ ok: true, lsn: '1' });
    const second = await writer(dir, 'try');
    expect(second.outcome).toMatchObject({ ok: false, code: 'WAL_LOCKED' });
    await expectWalError(Wal.open(dir).build(), 'WAL_LOCKED');

    await new Promise((resolve) => {
      first.process.once('close', resolve);
      first.process.kill('SIGKILL');
    });
    const third = await writer(dir, 'try');
    expect(third.outcome).toMatchObject({ ok: true, lsn: '2' });
    // It reports before it closes: wait until it is gone, lock released.
    if (third.process.exitCode === null)
      await new Promise((resolve) => third.process.once('exit', resolve));
    const wal = await Wal.open(dir).build();
    const payloads: string[] = [];
    await wal.replay(1n, (record) => {
      payloads.push(record.payload.toString());
    });
    expect(payloads).toEqual([
      `written by ${first.process.pid}`,
      `written by ${third.outcome.ok ? third.outcome.pid : '?'}`,
    ]);
    await wal.close();
  });
});
