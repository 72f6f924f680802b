import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { currentRuntime } from '@walnut/codec';
import { expectWalError } from '@walnut/codec/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { loadNative } from '../native.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { lockFile, ownerFileOf } from './lock-file.js';
import { formatOwnerRecord, newOwnerRecord } from './owner-record.js';
import { ownIdentity, type ProcessIdentity } from './process-identity.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'test', 'fixtures');
const fixture = join(fixtures, 'lock-child.mjs');
const root = tempDir('walnut-lock-');
afterAll(removeTempDirs);

const running = new Set<ChildProcess>();
afterEach(() => {
  for (const proc of running) proc.kill('SIGKILL');
  running.clear();
});

type Outcome = { ok: true; pid: number } | { ok: false; code: string; message: string };
type Addon = 'addon' | 'no addon';

interface Child {
  readonly outcome: Outcome;
  readonly process: ChildProcess;
}

/** A child that takes the lock through the built package; resolves with what it reported. */
function child(path: string, mode: 'hold' | 'try' | 'worker', addon: Addon): Promise<Child> {
  const env = { ...process.env, WALNUT_STORAGE_IO_NATIVE: addon === 'addon' ? '1' : '0' };
  const proc = spawn(process.execPath, [fixture, path, mode], {
    env,
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
      reject(new Error(`lock child ended (${signal ?? code}) before reporting`)),
    );
  });
}

function kill(proc: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    proc.once('close', () => resolve());
    proc.kill('SIGKILL');
  });
}

let count = 0;
function freshLockPath(): string {
  const dir = join(root, `log-${count++}`);
  mkdirSync(dir);
  return join(dir, 'LOCK');
}

const identity = ownIdentity() as ProcessIdentity;

describe('the one-writer lock, between processes', () => {
  it.each<[Addon, Addon]>([
    ['no addon', 'no addon'],
    ['addon', 'no addon'],
    ['no addon', 'addon'],
    ['addon', 'addon'],
  ])('a writer with %s shuts out a second one with %s, naming its pid', async (first, second) => {
    const path = freshLockPath();
    const holder = await child(path, 'hold', first);
    expect(holder.outcome.ok).toBe(true);
    const { outcome } = await child(path, 'try', second);
    expect(outcome).toMatchObject({ ok: false, code: 'WAL_LOCKED' });
    expect((outcome as { message: string }).message).toContain(`process ${holder.process.pid}`);
  });

  it.each<Addon>(['no addon', 'addon'])(
    'is free again for a newcomer (%s) once its holder was killed with SIGKILL',
    async (addon) => {
      const path = freshLockPath();
      const holder = await child(path, 'hold', 'no addon');
      await kill(holder.process);
      expect((await child(path, 'try', addon)).outcome.ok).toBe(true);
    },
  );

  // Deno closes a worker's files itself, but its child would not find the worker's module
  // (as in the test of a worker of this process below).
  it.skipIf(currentRuntime().name === 'deno')(
    'is free for another process once a worker thread of a live one took it and ended',
    async () => {
      const path = freshLockPath();
      const survivor = await child(path, 'worker', 'addon');
      expect(survivor.outcome.ok).toBe(true);
      // The owner file names the live survivor and says it held the flock. A newcomer
      // without the addon holds no flock, so it cannot tell that this one is free: refused.
      const blind = await child(path, 'try', 'no addon');
      expect(blind.outcome).toMatchObject({ ok: false, code: 'WAL_LOCKED' });
      expect((await child(path, 'try', 'addon')).outcome.ok).toBe(true);
    },
  );

  it('lets exactly one of many racing newcomers take over a dead owner', async () => {
    for (let round = 0; round < 3; round++) {
      const path = freshLockPath();
      await kill((await child(path, 'hold', 'no addon')).process);
      const racers = await Promise.all(
        Array.from({ length: 6 }, () => child(path, 'hold', 'no addon')),
      );
      const winners = racers.filter((racer) => racer.outcome.ok);
      expect(winners).toHaveLength(1);
      for (const racer of racers) {
        if (!racer.outcome.ok) expect(racer.outcome.code).toBe('WAL_LOCKED');
      }
      // Nothing is left behind but the owner file (and flock's LOCK, absent without the addon).
      expect(readdirSync(dirname(path))).toEqual(['LOCK.pid']);
    }
  });
});

describe('the one-writer lock, inside this process', () => {
  it('refuses a second opener in the same process and says so', async () => {
    const path = freshLockPath();
    const lock = await lockFile(path);
    const refusal = lockFile(path);
    await expectWalError(refusal, 'WAL_LOCKED');
    await expect(refusal).rejects.toThrow(`this process (pid ${process.pid})`);
    await lock.release();
    await (await lockFile(path)).release();
  });

  // Node's and Bun's worker threads leave their node:fs descriptors open, so the addon closes
  // this one. Deno closes a worker's files itself (checked by hand: the log reopens), but a
  // worker started inside its vitest workers cannot find the fixture's module.
  it.skipIf(loadNative().binding === null || currentRuntime().name === 'deno')(
    'is free again once a worker thread that took it ends without releasing it',
    async () => {
      const path = freshLockPath();
      // Without this process's flags: the worker imports the built package, not the sources.
      const worker = new Worker(join(fixtures, 'lock-worker.mjs'), {
        workerData: { path },
        execArgv: [],
      });
      // Its exit can arrive in the same turn as its message: listened for before either.
      const exited = once(worker, 'exit');
      expect(await once(worker, 'message')).toEqual(['locked']);
      await exited;
      // The worker's environment closed its flock descriptor; its owner file, naming this
      // process and a flock, is left behind and taken over.
      const lock = await lockFile(path);
      await lock.release();
    },
  );

  it.each([undefined, '', 42, {}])('refuses %j as the path with WAL_BAD_ARGUMENT', async (path) => {
    await expectWalError(lockFile(path as never), 'WAL_BAD_ARGUMENT');
  });

  it('removes its owner file on release, and leaves a flock target at most', async () => {
    const path = freshLockPath();
    const lock = await lockFile(path);
    expect(readdirSync(dirname(path))).toContain('LOCK.pid');
    await lock.release();
    expect(readdirSync(dirname(path))).not.toContain('LOCK.pid');
  });

  it('takes over an owner file whose pid now names a process started at another time', async () => {
    const path = freshLockPath();
    const reused = { ...newOwnerRecord(identity), startTime: '1' };
    writeFileSync(ownerFileOf(path), formatOwnerRecord(reused));
    await (await lockFile(path)).release();
  });

  it('never takes over an owner it cannot prove gone (another machine or pid namespace)', async () => {
    for (const other of [{ machineId: 'elsewhere' }, { pidNamespace: 'pid:[1]' }]) {
      const path = freshLockPath();
      const record = { ...newOwnerRecord(identity), pid: 999_999_999, ...other };
      writeFileSync(ownerFileOf(path), formatOwnerRecord(record));
      const refusal = lockFile(path);
      const refused = await expectWalError(refusal, 'WAL_LOCKED');
      expect(refused.message).toContain('it may have ended');
      // In its details too, for callers that word the refusal for what they lock.
      expect(refused.details.holderMayHaveEnded).toContain(`remove ${ownerFileOf(path)}`);
    }
  });

  it('refuses a lock file it cannot read as one, rather than guessing', async () => {
    const path = freshLockPath();
    writeFileSync(ownerFileOf(path), 'not a lock file\n');
    await expectWalError(lockFile(path), 'WAL_LOCK_UNAVAILABLE');
  });

  it('is what describe() reports, never "this process only"', async () => {
    const { lockScope } = await import('./lock-file.js');
    expect(lockScope()).toContain('owner file');
    expect(lockScope().includes('flock')).toBe(loadNative().binding !== null);
  });
});
