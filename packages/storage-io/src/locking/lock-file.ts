import * as fs from 'node:fs';
import { badArgument, currentRuntime, WalError, WalErrorCode } from '@walnut/codec';
import {
  Errno,
  ioErrorFromErrno,
  ioErrorFromNode,
  type LockHolder,
  lockedError,
} from '../contract/errors.js';
import type { IoLock } from '../contract/types.js';
import { type HeldFd, loadNative, type NativeBinding } from '../native.js';
import { claimOwnerFile, type OwnerFileClaim } from './owner-file.js';
import { readOwnerRecord } from './owner-record.js';
import { liveness, ownIdentity } from './process-identity.js';

/** The file beside the flock target that names the owner (`<dir>/LOCK.pid` for `<dir>/LOCK`). */
export function ownerFileOf(path: string): string {
  return `${path}.pid`;
}

/**
 * The one-writer lock of a log directory, the same protocol with or without the addon so
 * that processes of both kinds exclude each other: an owner file (pid, start time, boot id,
 * taken over only when its owner is provably gone) wherever this system shows those, and on
 * top, where the addon loaded, flock(2) on `path`, which the kernel drops when the process
 * dies and which holds across pid namespaces. Without either, writing is refused.
 */
export async function lockFile(path: string): Promise<IoLock> {
  if (typeof path !== 'string' || path.length === 0) badArgument('path', 'a file path', path);
  const binding = loadNative().binding;
  const self = ownIdentity();
  if (binding === null && typeof self === 'string') {
    // On Deno both are permissions: --allow-ffi loads the addon (flock), -A shows /proc.
    const remedy =
      currentRuntime().name === 'deno'
        ? 'run Deno with --allow-ffi (the addon then locks with flock) or with -A'
        : 'install @walnut/storage-io where its addon loads (see describe().reason)';
    throw new WalError(
      WalErrorCode.LOCK_UNAVAILABLE,
      `cannot lock ${path} against other processes: the native addon (flock) is not loaded and ${self}, so a lock file's owner could never be proven gone; ${remedy}, or open the log read-only`,
      { details: { path } },
    );
  }
  const flock = binding === null ? undefined : await takeFlockWaitingForDeno(binding, path);
  const letGo = () => {
    if (flock === undefined) return;
    if (flock.held !== undefined) binding!.releaseHeldFd(flock.held);
    fs.closeSync(flock.fd);
  };
  let claim: OwnerFileClaim | undefined;
  if (typeof self !== 'string') {
    try {
      claim = await claimOwnerFile(ownerFileOf(path), self, flock !== undefined);
    } catch (error) {
      letGo();
      throw error;
    }
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      // The flock dies with its descriptor: closed even when removing the owner file fails
      // (an I/O error), or the lock would be held until the process ends.
      try {
        claim?.release();
        // Removed while the lock is still held, so never a next holder's.
        if (WINDOWS && flock !== undefined) fs.rmSync(ownerFileOf(path), { force: true });
      } finally {
        letGo();
      }
    },
  };
}

/**
 * How long an opener on Deno waits for a flock this process holds. Deno closes a terminated
 * worker's files after `worker.terminate()` has resolved: 30–350 ms later in a user's runs,
 * and until then the worker's lock refuses the next opener, who can close nothing.
 */
const DENO_WORKER_RELEASE_MS = 1_000;

/** `takeFlock`, waiting on Deno for a lock this process holds, as a terminated worker's may be. */
async function takeFlockWaitingForDeno(
  binding: NativeBinding,
  path: string,
): Promise<{ fd: number; held?: HeldFd }> {
  const waitUntil = currentRuntime().name === 'deno' ? Date.now() + DENO_WORKER_RELEASE_MS : 0;
  for (;;) {
    const taken = takeFlock(binding, path);
    if (!('holder' in taken)) return taken;
    if (!taken.holder.self || Date.now() >= waitUntil) {
      const why =
        waitUntil > 0 && taken.holder.self
          ? `; waited ${DENO_WORKER_RELEASE_MS} ms for a worker thread of this process that ended to let go of it, as Deno does a moment after worker.terminate()`
          : '';
      throw lockedError(path, taken.holder, why);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * The flock on `path`, or who holds it. On Node and Bun its descriptor is also `held`: the
 * addon closes it when this environment ends (a worker thread that ends with its log open),
 * so that the lock does not outlive it. Deno's descriptors are its own to close, and it
 * closes a worker's files.
 */
function takeFlock(
  binding: NativeBinding,
  path: string,
): { fd: number; held?: HeldFd } | { holder: LockHolder } {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (error) {
    throw ioErrorFromNode(error, 'open', path);
  }
  const { LOCK_EX, LOCK_NB } = binding.constants;
  const result = binding.flock(fd, LOCK_EX | LOCK_NB);
  if (result >= 0) {
    if (WINDOWS) recordHolder(fd, path);
    if (currentRuntime().name === 'deno') return { fd };
    try {
      return { fd, held: binding.holdFd(fd) };
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
  }
  fs.closeSync(fd);
  if (-result !== Errno.EWOULDBLOCK && -result !== Errno.EAGAIN)
    throw ioErrorFromErrno(result, 'flock', path);
  if (WINDOWS) return { holder: recordedHolder(path) };
  const owner = readOwnerRecord(ownerFileOf(path));
  if (owner === null || owner === 'garbled') return { holder: { self: false } };
  return { holder: { pid: owner.pid, self: liveness(owner).kind === 'this-process' } };
}

const WINDOWS = process.platform === 'win32';

/**
 * Windows shows no process start times, so no owner record can prove its holder gone: the
 * holder's pid alone goes into the owner file's place (`<path>.pid`), never into the locked
 * file, which for a portable log is the log itself. While the lock is held its holder runs,
 * and Windows does not reuse a running process's pid, so the pid read names it; only in the
 * instant between a new holder's lock and its write can it name the one before.
 */
function recordHolder(fd: number, path: string): void {
  try {
    fs.writeFileSync(ownerFileOf(path), `${process.pid}\n`);
  } catch (error) {
    fs.closeSync(fd);
    throw ioErrorFromNode(error, 'write', ownerFileOf(path));
  }
}

function recordedHolder(path: string): LockHolder {
  let pid: number;
  try {
    pid = Number.parseInt(fs.readFileSync(ownerFileOf(path), 'utf8'), 10);
  } catch {
    return { self: false };
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return { self: false };
  return { pid, self: pid === process.pid };
}

/** How locks exclude other writers here, for describe(). */
export function lockScope(): string {
  const flock = loadNative().binding !== null;
  const self = ownIdentity();
  if (WINDOWS && flock) return "LockFileEx, its holder's pid in the owner file (LOCK.pid)";
  if (typeof self === 'string') {
    return flock
      ? 'flock (no owner file: this system does not show process start times)'
      : `none: opening for writing is refused (no native addon, and ${self})`;
  }
  return flock
    ? 'flock + owner file (LOCK.pid)'
    : 'owner file (LOCK.pid: pid, start time, boot id); no flock, the native addon is not loaded';
}

/** Who the owner file of the lock at `path` names, and whether that process still runs. */
export function lockOwner(
  path: string,
): { readonly pid: number; readonly state: 'this-process' | 'alive' | 'gone' | 'unknown' } | null {
  if (WINDOWS) return windowsHolder(path);
  const owner = readOwnerRecord(ownerFileOf(path));
  if (owner === null || owner === 'garbled') return null;
  return { pid: owner.pid, state: liveness(owner).kind };
}

/**
 * The pid the Windows holder recorded, gone when no such process runs. A running one may have
 * taken a dead holder's pid (Windows reuses pids), so it is only `unknown`, never `alive`.
 */
function windowsHolder(
  path: string,
): { readonly pid: number; readonly state: 'this-process' | 'gone' | 'unknown' } | null {
  const { pid } = recordedHolder(path);
  if (pid === undefined) return null;
  if (pid === process.pid) return { pid, state: 'this-process' };
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ESRCH') return { pid, state: 'gone' };
  }
  return { pid, state: 'unknown' };
}
