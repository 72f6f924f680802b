import * as fs from 'node:fs';
import { toNamespacedPath } from 'node:path';
import { isNotFound } from '@walnut/codec';
import type { BaseStorageIo, OpenRequest } from '../contract/base-storage-io.js';
import {
  Errno,
  ioErrorFromErrno,
  ioErrorFromNode,
  resultFromNodeError,
} from '../contract/errors.js';
import type { FileHead, IoFd, IoLock, OpenOptions } from '../contract/types.js';
import { lockFile } from '../locking/lock-file.js';
import { loadNative } from '../native.js';
import { makeDirectory } from './make-directory.js';

const WINDOWS = process.platform === 'win32';
/** A Windows rename over a file held open: 50 tries 20 ms apart, about a second. */
const RENAME_ATTEMPTS = 50;
const RENAME_RETRY_MS = 20;

// The file and name operations of the backends over real files (sync-fs, io_uring): what
// they share, apart from how they read, write and sync.

/** open(2) flags for OpenOptions; O_DIRECT/O_DSYNC come from node:fs (or the addon). */
export function openFlags(options: OpenOptions = {}): number {
  const c = fs.constants;
  let flags = options.readOnly ? c.O_RDONLY : c.O_RDWR;
  if (options.create) flags |= c.O_CREAT;
  if (options.create && options.exclusive) flags |= c.O_EXCL;
  if (options.truncate) flags |= c.O_TRUNC;
  if (options.direct) flags |= directFlag();
  if (options.dsync) flags |= c.O_DSYNC ?? loadNative().binding?.constants.O_DSYNC ?? 0;
  return flags;
}

function directFlag(): number {
  const flag = fs.constants.O_DIRECT ?? loadNative().binding?.constants.O_DIRECT;
  if (flag === undefined) throw ioErrorFromErrno(Errno.EINVAL, 'open (O_DIRECT unsupported)');
  return flag;
}

/**
 * Executes a submitted open on the calling thread: the new descriptor, or -errno. A setup
 * operation (one per segment), as cheap as the other file operations below.
 */
export function openNow({ path, options }: OpenRequest): number {
  try {
    return fs.openSync(path, openFlags(options), options.mode ?? 0o600);
  } catch (error) {
    return resultFromNodeError(error);
  }
}

/** Opens `path` read-only on this thread, as every open here: the descriptor, or the error. */
export function openToRead(path: string): IoFd | Error {
  try {
    return fs.openSync(path, fs.constants.O_RDONLY);
  } catch (error) {
    return ioErrorFromNode(error, 'open', path);
  }
}

/**
 * Reads on from `from` until `into` is full or the file ends: the bytes read, or the
 * error. `from` bytes are there already (a read through the ring that came back short).
 */
export function readHeadOn(fd: IoFd, path: string, into: Buffer, from: number): Buffer | Error {
  let done = from;
  try {
    while (done < into.length) {
      const n = fs.readSync(fd, into, done, into.length - done, done);
      if (n === 0) break;
      done += n;
    }
  } catch (error) {
    return ioErrorFromNode(error, 'read', path);
  }
  return into.subarray(0, done);
}

/** `count` zeroed buffers of `length` bytes over one allocation, not an ArrayBuffer each. */
export function headBuffers(count: number, length: number): Buffer[] {
  const all = Buffer.alloc(count * length);
  return Array.from({ length: count }, (_, i) => all.subarray(i * length, (i + 1) * length));
}

function fileHead(fd: IoFd, path: string, bytes: Buffer): FileHead | Error {
  try {
    return { bytes, size: fs.fstatSync(fd).size };
  } catch (error) {
    return ioErrorFromNode(error, 'fstat', path);
  }
}

/**
 * A head whose bytes are read (or whose read failed): the file's size taken, then the
 * file closed, whatever happened before.
 */
export function finishHead(fd: IoFd, path: string, read: Buffer | Error): FileHead | Error {
  let result: FileHead | Error = read instanceof Error ? read : fileHead(fd, path, read);
  try {
    fs.closeSync(fd);
  } catch (error) {
    if (!(result instanceof Error)) result = ioErrorFromNode(error, 'close', path);
  }
  return result;
}

/**
 * Files and names on a real file system through node:fs. These are setup operations
 * (rename, fsync of a directory), not the hot path, so they run synchronously.
 */
export const realFiles = {
  async close(fd: IoFd): Promise<void> {
    try {
      fs.closeSync(fd);
    } catch (error) {
      throw ioErrorFromNode(error, 'close');
    }
  },
  async size(fd: IoFd): Promise<number> {
    try {
      return fs.fstatSync(fd).size;
    } catch (error) {
      throw ioErrorFromNode(error, 'fstat');
    }
  },
  async truncate(fd: IoFd, length: number): Promise<void> {
    try {
      fs.ftruncateSync(fd, length);
    } catch (error) {
      throw ioErrorFromNode(error, 'ftruncate');
    }
  },
  async mkdir(path: string): Promise<void> {
    makeDirectory(path);
  },
  async readdir(path: string): Promise<string[]> {
    try {
      return fs.readdirSync(path);
    } catch (error) {
      throw ioErrorFromNode(error, 'readdir', path);
    }
  },
  async stat(path: string): Promise<{ size: number } | null> {
    try {
      return { size: fs.statSync(path).size };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw ioErrorFromNode(error, 'stat', path);
    }
  },
  async rename(from: string, to: string): Promise<void> {
    const durable = WINDOWS ? loadNative().binding?.renameDurable : undefined;
    if (durable !== undefined) {
      // Windows cannot sync a directory: the rename itself is written through (decision 0009).
      // It cannot replace a file another process has open (a reader of CUT or HEAD, an
      // antivirus scan) either: that is EPERM or EBUSY for as long as the handle lives,
      // so it is tried again for about a second before it fails.
      for (let attempt = 1; ; attempt++) {
        const result = durable(toNamespacedPath(from), toNamespacedPath(to));
        if (result >= 0) return;
        const held = result === -Errno.EPERM || result === -Errno.EBUSY;
        if (!held || attempt >= RENAME_ATTEMPTS) {
          throw ioErrorFromErrno(result, 'rename', `${from} -> ${to}`);
        }
        await new Promise((resolve) => setTimeout(resolve, RENAME_RETRY_MS));
      }
    }
    try {
      fs.renameSync(from, to);
    } catch (error) {
      throw ioErrorFromNode(error, 'rename', `${from} -> ${to}`);
    }
  },
  async unlink(path: string): Promise<void> {
    try {
      fs.unlinkSync(path);
    } catch (error) {
      throw ioErrorFromNode(error, 'unlink', path);
    }
  },
  async syncDirectory(path: string): Promise<void> {
    // Windows has no fsync of a directory (FlushFileBuffers refuses one): names reach the
    // disk through NTFS's journal and write-through renames instead (decision 0009).
    if (WINDOWS) return;
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0));
    } catch (error) {
      throw ioErrorFromNode(error, 'open', path);
    }
    try {
      fs.fsyncSync(fd);
    } catch (error) {
      throw ioErrorFromNode(error, 'fsync', path);
    } finally {
      fs.closeSync(fd);
    }
  },
  /** One file after another on this thread: four system calls each, no promise. */
  async readHeads(paths: readonly string[], length: number): Promise<(FileHead | Error)[]> {
    const buffers = headBuffers(paths.length, length);
    return paths.map((path, i) => {
      const fd = openToRead(path);
      return fd instanceof Error ? fd : finishHead(fd, path, readHeadOn(fd, path, buffers[i]!, 0));
    });
  },
  lock: lockFile,
};

// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor must take any[]
type BackendClass = abstract new (...args: any[]) => BaseStorageIo;

/** What `withRealFiles` adds: `realFiles`' operations, as methods of the backend. */
export type RealFileOperations = typeof realFiles;

/**
 * The file and name operations of a backend over real files (sync-fs, io_uring): both
 * run them through node:fs (`realFiles`) and differ only in how they read, write and
 * sync. A mixin, because the two extend different bases.
 */
export function withRealFiles<Base extends BackendClass>(
  base: Base,
  // biome-ignore lint/suspicious/noExplicitAny: as above
): Base & (abstract new (...args: any[]) => RealFileOperations) {
  abstract class RealFilesBackend extends base {
    close(fd: IoFd): Promise<void> {
      return realFiles.close(fd);
    }
    size(fd: IoFd): Promise<number> {
      return realFiles.size(fd);
    }
    truncate(fd: IoFd, length: number): Promise<void> {
      return realFiles.truncate(fd, length);
    }
    mkdir(path: string): Promise<void> {
      return realFiles.mkdir(path);
    }
    readdir(path: string): Promise<string[]> {
      return realFiles.readdir(path);
    }
    stat(path: string): Promise<{ size: number } | null> {
      return realFiles.stat(path);
    }
    rename(from: string, to: string): Promise<void> {
      return realFiles.rename(from, to);
    }
    unlink(path: string): Promise<void> {
      return realFiles.unlink(path);
    }
    syncDirectory(path: string): Promise<void> {
      return realFiles.syncDirectory(path);
    }
    lock(path: string): Promise<IoLock> {
      return realFiles.lock(path);
    }
    readHeads(paths: readonly string[], length: number): Promise<(FileHead | Error)[]> {
      return realFiles.readHeads(paths, length);
    }
  }
  return RealFilesBackend;
}
