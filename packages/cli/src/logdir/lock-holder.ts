import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { lockOwner } from '@walnut/storage-io';

export type LockState =
  | { readonly kind: 'free' }
  | { readonly kind: 'held'; readonly pid: number; readonly command: string | null }
  | { readonly kind: 'unknown'; readonly reason: string };

/**
 * Who holds the writer lock of `dir`: a live owner named by its owner file (`LOCK.pid`,
 * judged by pid, start time and boot id, so a stale one left by a crash does not count), or
 * else an flock on `LOCK` in the kernel's lock table (/proc/locks), matched by device and inode.
 */
export async function lockHolder(dir: string): Promise<LockState> {
  const lockPath = join(dir, 'LOCK');
  const owner = lockOwner(lockPath);
  if (owner !== null && owner.state !== 'gone')
    return { kind: 'held', pid: owner.pid, command: await commandOf(owner.pid) };
  let ino: number;
  let dev: number;
  try {
    const info = await stat(lockPath);
    ino = info.ino;
    dev = info.dev;
  } catch {
    return { kind: 'free' };
  }
  let table: string;
  try {
    table = await readFile('/proc/locks', 'utf8');
  } catch {
    return { kind: 'unknown', reason: 'this system has no /proc/locks' };
  }
  const wanted = `${hex2(major(dev))}:${hex2(minor(dev))}:${ino}`;
  for (const line of table.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 4242 fd:01:123456 0 EOF" ("->" marks a waiter, not a holder)
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== 'FLOCK' || fields.includes('->')) continue;
    if (fields[5] !== wanted) continue;
    const pid = Number(fields[4]);
    return { kind: 'held', pid, command: await commandOf(pid) };
  }
  return { kind: 'free' };
}

function major(dev: number): number {
  return ((dev >>> 8) & 0xfff) | (Math.floor(dev / 2 ** 32) & ~0xfff);
}

function minor(dev: number): number {
  return (dev & 0xff) | ((dev >>> 12) & 0xfff00);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

async function commandOf(pid: number): Promise<string | null> {
  try {
    const raw = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    const command = raw.split('\0').filter(Boolean).join(' ');
    return command.length > 0 ? command : null;
  } catch {
    return null;
  }
}
