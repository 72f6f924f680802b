import * as fs from 'node:fs';
import { type QueuedOp, SequentialStorageIo } from './base.js';
import { Errno, resultFromNodeError } from './errors.js';
import { loadNative } from './native.js';
import { lockScope, realFiles } from './realfs.js';
import type { IoFd, IoLock, OpenOptions, StorageIoDescription } from './types.js';

/**
 * node:fs synchronous calls, executed in submission order at `flush()`; every
 * completion is delivered on the next event-loop turn. The portable baseline: it needs
 * nothing but Node, and it blocks the event loop for the duration of each call.
 */
export class SyncFsStorageIo extends SequentialStorageIo {
  readonly name = 'sync-fs';
  readonly #reason: string;

  constructor(options: { reason?: string } = {}) {
    super();
    this.#reason = options.reason ?? 'chosen explicitly';
  }

  protected execute(op: QueuedOp): number {
    try {
      switch (op.op) {
        case 'write':
          return fs.writeSync(op.fd, op.data!, 0, op.requested, op.offset);
        case 'writev':
          return fs.writevSync(op.fd, op.buffers as Uint8Array[], op.offset);
        case 'read':
          return fs.readSync(op.fd, op.data!, 0, op.requested, op.offset);
        case 'fdatasync':
          fs.fdatasyncSync(op.fd);
          return 0;
        case 'fsync':
          fs.fsyncSync(op.fd);
          return 0;
        case 'fallocate': {
          const binding = loadNative().binding;
          if (binding === null) return -Errno.EOPNOTSUPP;
          return binding.fallocate(op.fd, 0, op.offset, op.requested);
        }
      }
    } catch (error) {
      return resultFromNodeError(error);
    }
  }

  open(path: string, options?: OpenOptions): Promise<IoFd> {
    this.assertOpen();
    return realFiles.open(path, options);
  }
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

  describe(): StorageIoDescription {
    return {
      backend: this.name,
      reason: this.#reason,
      details: {
        completes:
          'runs at flush() on the calling thread; completions delivered on the next loop turn',
        fallocate: loadNative().binding === null ? 'unsupported (addon not loaded)' : 'native',
        locks: lockScope(),
        addon: loadNative().reason,
      },
    };
  }
}
