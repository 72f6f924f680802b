/**
 * A disk that flushes slowly, for `pnpm bench --slow-disk MS` (issue #40): tools/crashfs
 * mounted with `--fsync-delay-ms MS` over a backing directory, so every fsync and fdatasync
 * takes MS longer, as on cloud block storage (0.5–2 ms) or a consumer NVMe without power-loss
 * protection (~0.9 ms), where this VM's disk flushes in 0.1–0.2 ms. Nothing is cut: a clean
 * unmount keeps everything.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SlowDisk {
  /** Where the logs go: the mount point. */
  readonly dir: string;
  readonly delayMs: number;
  /** Unmounts (synchronously: it also runs from an exit handler) and removes the backing. */
  close(): void;
}

/** Compiles crashfs once per version of its source, as the soak's tests do. */
function buildCrashFs(repoRoot: string): string {
  const source = join(repoRoot, 'tools', 'crashfs', 'crashfs.c');
  const hash = createHash('sha256').update(readFileSync(source)).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'walnut-crashfs', hash);
  const binary = join(dir, 'crashfs');
  if (existsSync(binary)) return binary;
  mkdirSync(dir, { recursive: true });
  const flags = execFileSync('pkg-config', ['--cflags', '--libs', 'fuse3'], { encoding: 'utf8' })
    .trim()
    .split(/\s+/);
  execFileSync('cc', ['-O2', '-Wall', '-o', binary, source, ...flags], { stdio: 'inherit' });
  return binary;
}

/** Mounts the slow disk under `baseDir` and resolves once crashfs says it is ready. */
export async function mountSlowDisk(
  repoRoot: string,
  baseDir: string,
  delayMs: number,
): Promise<SlowDisk> {
  const binary = buildCrashFs(repoRoot);
  const backing = mkdtempSync(join(baseDir, 'walnut-slow-backing-'));
  const mountpoint = mkdtempSync(join(baseDir, 'walnut-slow-disk-'));
  const child: ChildProcess = spawn(
    binary,
    ['--fsync-delay-ms', String(delayMs), backing, mountpoint],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('crashfs did not mount in 10 s')), 10_000);
      let seen = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
        seen += chunk;
        if (seen.split('\n').includes('ready')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        reject(new Error(`crashfs exited (${code}) before it was ready: ${stderr.trim()}`));
      });
    });
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(backing, { recursive: true, force: true });
    rmSync(mountpoint, { recursive: true, force: true });
    throw error;
  }
  let closed = false;
  return {
    dir: mountpoint,
    delayMs,
    close() {
      if (closed) return;
      closed = true;
      // Retried while the kernel still holds files open, then lazily; crashfs ends at unmount.
      for (let attempt = 0; attempt < 50; attempt++) {
        const lazy = attempt === 49;
        const run = spawnSync('fusermount3', ['-u', ...(lazy ? ['-z'] : []), mountpoint], {
          stdio: 'ignore',
        });
        if (run.status === 0) break;
        spawnSync('sleep', ['0.05']);
      }
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(mountpoint, { recursive: true, force: true });
      rmSync(backing, { recursive: true, force: true });
    },
  };
}
