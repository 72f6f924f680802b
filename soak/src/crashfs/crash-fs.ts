import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

/** The C source of the crash file system (tools/crashfs/README.md says what it models). */
const SOURCE = fileURLToPath(new URL('../../../tools/crashfs/crashfs.c', import.meta.url));

/** The environment variable that turns "FUSE unavailable: skip" into a failure (CI sets it). */
export const REQUIRE_FUSE = 'WALNUT_REQUIRE_FUSE';

let availability: { available: boolean; reason: string } | undefined;

/** Whether this machine can build and mount crashfs: /dev/fuse, fusermount3, cc and libfuse3. */
export function crashFsAvailability(): { available: boolean; reason: string } {
  availability ??= probe();
  return availability;
}

function probe(): { available: boolean; reason: string } {
  try {
    accessSync('/dev/fuse', constants.R_OK | constants.W_OK);
  } catch {
    return { available: false, reason: '/dev/fuse is missing or not usable by this user' };
  }
  for (const [tool, args] of [
    ['fusermount3', ['-V']],
    ['cc', ['--version']],
    ['pkg-config', ['--exists', 'fuse3']],
  ] as const) {
    const run = spawnSync(tool, args, { stdio: 'ignore' });
    if (run.error !== undefined || run.status !== 0) {
      return {
        available: false,
        reason: `${tool} ${args.join(' ')} failed (install fuse3 and libfuse3-dev)`,
      };
    }
  }
  return { available: true, reason: 'crashfs can be built and mounted' };
}

/**
 * For tests: false when crashfs tests run, else why they are skipped. With
 * WALNUT_REQUIRE_FUSE=1 an unusable FUSE throws instead, so CI fails rather than skips.
 */
export function crashFsSkip(): string | false {
  const { available, reason } = crashFsAvailability();
  if (available) return false;
  if (process.env[REQUIRE_FUSE] === '1') {
    throw new Error(`${REQUIRE_FUSE}=1, but crashfs cannot run here: ${reason}`);
  }
  return `FUSE unavailable: ${reason}`;
}

/**
 * Compiles crashfs once per version of its source into a cache directory and returns the
 * binary's path. Concurrent builders each compile to a file of their own and rename it in.
 */
export function buildCrashFs(): string {
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'walnut-crashfs', hash);
  const binary = join(dir, 'crashfs');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  const partial = `${binary}.${process.pid}-${randomBytes(4).toString('hex')}`;
  execFileSync('cc', ['-O2', '-Wall', '-o', partial, SOURCE, ...flags], { stdio: 'pipe' });
  renameSync(partial, binary);
  return binary;
}

export interface CrashFsOptions {
  /** The real directory behind the mount; after a crash it holds what survived. */
  backing: string;
  /** An empty directory to mount on. */
  mountpoint: string;
  /** Cut power when this many changing operations have run (writes, fsyncs, creates...). */
  crashAfter?: number;
  /** Let the newest unsynced write survive as a prefix (seeded) instead of vanishing. */
  tearSeed?: number;
  /**
   * Let each 4 KiB page of unsynced writes survive or not on its own (seeded), as writeback
   * leaves them: a later write may reach the disk without an earlier one.
   */
  reorderSeed?: number;
  /** Delay every fsync/fdatasync by this long (a slow-flushing disk). */
  fsyncDelayMs?: number;
}

/** Where the power cut struck: the operation that was refused first, and the file it was on. */
export interface CrashPoint {
  readonly op: number;
  readonly operation: string;
  readonly path: string;
}

/** What the crash file system reported when it was unmounted. */
export interface CrashFsSummary {
  readonly ops: number;
  readonly crash: CrashPoint | null;
  /** Unsynced changes to file contents rolled back (the torn write counts once). */
  readonly changesDropped: number;
  /** Directory entries that differ from what the last directory fsyncs covered. */
  readonly entriesDropped: number;
  /** Bytes of the torn write that survived, of how many (0/0 when none was torn). */
  readonly torn: readonly [number, number];
  /** With `reorderSeed`: pages of unsynced writes that survived. */
  readonly pagesKept: number;
}

/** A mounted crash file system, run by a crashfs process this object owns. */
export class CrashFs {
  readonly #process: ChildProcess;
  readonly #mountpoint: string;
  readonly #lines: string[] = [];
  #waiters: (() => void)[] = [];
  #exited = false;
  #stderr = '';

  private constructor(process: ChildProcess, mountpoint: string) {
    this.#process = process;
    this.#mountpoint = mountpoint;
    let rest = '';
    process.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      this.#lines.push(...lines);
      this.#wake();
    });
    process.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      this.#stderr += chunk;
    });
    process.on('close', () => {
      this.#exited = true;
      this.#wake();
    });
  }

  /** Mounts crashfs and resolves once the kernel has it (the file system answered INIT). */
  static async mount(options: CrashFsOptions): Promise<CrashFs> {
    const args: string[] = [];
    if (options.crashAfter !== undefined) args.push('--crash-after', String(options.crashAfter));
    if (options.tearSeed !== undefined) args.push('--tear', String(options.tearSeed));
    if (options.reorderSeed !== undefined) args.push('--reorder', String(options.reorderSeed));
    if (options.fsyncDelayMs !== undefined)
      args.push('--fsync-delay-ms', String(options.fsyncDelayMs));
    const proc = spawn(buildCrashFs(), [...args, options.backing, options.mountpoint], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const fs = new CrashFs(proc, options.mountpoint);
    try {
      await fs.#waitFor((line) => line === 'ready', 10_000);
    } catch (error) {
      proc.kill('SIGKILL');
      throw error;
    }
    return fs;
  }

  /**
   * Cuts power now: every later operation fails with EIO, and nothing more becomes durable.
   * Resolves once crashfs has taken the command: an unmount before that would be a clean one
   * (crashfs reads its commands on a thread of its own).
   */
  crash(timeoutMs = 10_000): Promise<CrashPoint> {
    this.#process.stdin!.write('crash\n');
    return this.crashed(timeoutMs);
  }

  /** Resolves with the power cut once crashfs has reported it. */
  async crashed(timeoutMs = 10_000): Promise<CrashPoint> {
    await this.#waitFor((line) => line.startsWith('crashed '), timeoutMs);
    return this.crashPoint!;
  }

  /** The power cut, once it was reported (null before). */
  get crashPoint(): CrashPoint | null {
    const line = this.#lines.find((l) => l.startsWith('crashed '));
    return line === undefined ? null : parseCrash(line);
  }

  /**
   * Unmounts (retrying while the kernel still has files open), waits for crashfs to rebuild
   * the backing directory from what survived, and returns its report. Kills it by pid if it
   * does not end.
   */
  async unmount(): Promise<CrashFsSummary> {
    for (let attempt = 0; !this.#exited; attempt++) {
      const lazy = attempt >= 50;
      const run = spawnSync('fusermount3', ['-u', ...(lazy ? ['-z'] : []), this.#mountpoint], {
        stdio: 'ignore',
      });
      if (run.status === 0 || lazy) break;
      await sleep(20);
    }
    try {
      // The rebuild replays every unsynced change kept; under a load of 20 on 2 cores, tens
      // of thousands of them took longer than 30 s (a nemesis run's power cut, 2026-11-27).
      await this.#waitFor(() => this.#exited, 120_000);
    } catch (error) {
      this.#process.kill('SIGKILL');
      throw error;
    }
    const summary = this.#lines.find((l) => l.startsWith('summary '));
    if (summary === undefined) {
      throw new Error(`crashfs ended without a summary: ${this.#stderr.trim()}`);
    }
    const numbers = (prefix: string) =>
      (this.#lines.find((l) => l.startsWith(prefix)) ?? '').split(' ');
    const rebuilt = numbers('rebuilt ');
    const torn = (rebuilt[6] ?? '0/0').split('/').map(Number) as [number, number];
    const warnings = this.#lines.filter((l) => l.startsWith('warning'));
    if (warnings.length > 0) throw new Error(`crashfs: ${warnings.join('; ')}`);
    return {
      ops: Number(summary.split(' ')[2]),
      crash: this.crashPoint,
      changesDropped: Number(rebuilt[2] ?? 0),
      entriesDropped: Number(rebuilt[4] ?? 0),
      torn,
      pagesKept: Number(rebuilt[8] ?? 0),
    };
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  async #waitFor(done: (line: string) => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (let seen = 0; ; ) {
      for (; seen < this.#lines.length; seen++) if (done(this.#lines[seen]!)) return;
      if (done('')) return;
      if (this.#exited) {
        throw new Error(`crashfs on ${this.#mountpoint} ended: ${this.#stderr.trim()}`);
      }
      if (Date.now() > deadline) throw new Error(`crashfs on ${this.#mountpoint} did not answer`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 100);
      });
    }
  }
}

function parseCrash(line: string): CrashPoint {
  const [, op, operation, ...path] = line.split(' ');
  return { op: Number(op), operation: operation ?? '', path: path.join(' ') };
}
