/** Facts about the machine and the code measured, recorded with every result. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { join, resolve } from 'node:path';

export interface MachineInfo {
  readonly cpuModel: string;
  readonly cores: number;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly platform: string;
  readonly fileSystem: string;
  readonly device: string;
  readonly node: string;
  readonly root: boolean;
}

interface Mount {
  readonly device: string;
  readonly mountPoint: string;
  readonly type: string;
}

/** The mount that holds `path`: the longest mount point that prefixes it. */
export function mountOf(path: string, mounts: string): Mount | undefined {
  let best: Mount | undefined;
  const target = resolve(path);
  for (const line of mounts.split('\n')) {
    const [device, mountPoint, type] = line.split(' ');
    if (device === undefined || mountPoint === undefined || type === undefined) continue;
    const prefix = mountPoint.endsWith('/') ? mountPoint : `${mountPoint}/`;
    const contains = target === mountPoint || target.startsWith(prefix);
    if (contains && (best === undefined || mountPoint.length >= best.mountPoint.length)) {
      best = { device, mountPoint, type };
    }
  }
  return best;
}

export function machineInfo(benchDir: string): MachineInfo {
  let mount: Mount | undefined;
  try {
    mount = mountOf(benchDir, readFileSync('/proc/mounts', 'utf8'));
  } catch {
    mount = undefined;
  }
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    platform: `${os.platform()} ${os.arch()}`,
    fileSystem: mount?.type ?? 'unknown',
    device: mount?.device ?? 'unknown',
    node: process.version,
    root: process.getuid?.() === 0,
  };
}

/** The git commit of the measured tree, with a mark when it has uncommitted changes. */
export function gitRevision(repoRoot: string): string {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repoRoot })
      .toString()
      .trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'packages', 'bench/src'], {
      cwd: repoRoot,
    })
      .toString()
      .trim();
    return dirty === '' ? head : `${head}+uncommitted`;
  } catch {
    return 'unknown';
  }
}

export function repoRootOf(benchRoot: string): string {
  return join(benchRoot, '..');
}
