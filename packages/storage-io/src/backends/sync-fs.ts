import * as fs from 'node:fs';
import type { QueuedOp } from '../contract/base-storage-io.js';
import { Errno, resultFromNodeError } from '../contract/errors.js';
import { SequentialStorageIo } from '../contract/sequential-storage-io.js';
import type { StorageIoDescription } from '../contract/types.js';
import { lockScope } from '../locking/lock-file.js';
import { loadNative } from '../native.js';
import { openNow, withRealFiles } from './real-files.js';

/**
 * node:fs synchronous calls, executed in submission order at `flush()`; every
 * completion is delivered on the next event-loop turn. The portable baseline: it needs
 * nothing but Node, and it blocks the event loop for the duration of each call.
 */
export class SyncFsStorageIo extends withRealFiles(SequentialStorageIo) {
  readonly name = 'sync-fs';
  readonly dsyncWrites = true;
  private readonly reason: string;

  constructor(options: { reason?: string } = {}) {
    super();
    this.reason = options.reason ?? 'chosen explicitly';
  }

  protected execute(op: QueuedOp): number {
    try {
      switch (op.op) {
        case 'open':
          return openNow(op.open!);
        case 'write':
        case 'writev': {
          const written =
            op.op === 'write'
              ? fs.writeSync(op.fd, op.data!, 0, op.requested, op.offset)
              : fs.writevSync(op.fd, op.buffers as Uint8Array[], op.offset);
          // Node has no pwritev2: what RWF_DSYNC does in one call takes two here.
          if (op.dsync && written > 0) fs.fdatasyncSync(op.fd);
          return written;
        }
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
        case 'writeback': {
          const binding = loadNative().binding;
          if (binding === null) return -Errno.EOPNOTSUPP;
          return binding.syncFileRangeWrite(op.fd, op.offset, op.requested);
        }
      }
    } catch (error) {
      return resultFromNodeError(error);
    }
  }

  describe(): StorageIoDescription {
    return {
      backend: this.name,
      reason: this.reason,
      details: {
        completes:
          'runs at flush() on the calling thread; completions delivered on the next loop turn',
        fallocate: linuxFileCall(),
        writeback: linuxFileCall(),
        locks: lockScope(),
        addon: loadNative().reason,
      },
    };
  }
}

/**
 * fallocate and sync_file_range are Linux's: the addon elsewhere (Windows, macOS) answers them
 * EOPNOTSUPP, and without the addon there is neither.
 */
function linuxFileCall(): string {
  if (loadNative().binding === null) return 'unsupported (addon not loaded)';
  return process.platform === 'linux'
    ? 'native'
    : `unsupported (Linux only; this is ${process.platform})`;
}
