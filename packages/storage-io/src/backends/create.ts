import { channel } from 'node:diagnostics_channel';
import {
  badArgument,
  checkOptionKeys,
  isWalError,
  readEnv,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import type { StorageIo } from '../contract/types.js';
import { checkIoUringConfig, type IoUringConfig, IoUringStorageIo } from './io-uring.js';
import { MemoryStorageIo } from './memory.js';
import { ioUringProof, proveIoUring } from './prove-io-uring.js';
import { SyncFsStorageIo } from './sync-fs.js';

export type BackendChoice = 'auto' | 'io_uring' | 'sync-fs' | 'memory';

export interface CreateStorageIoOptions {
  /** Default 'auto': io_uring when a ring can be created, else sync-fs. */
  readonly backend?: BackendChoice;
  readonly ioUring?: IoUringConfig;
}

/** The channel on which `auto` says it could not use io_uring and fell back to sync-fs. */
export const STORAGE_IO_FALLBACK_CHANNEL = 'walnut:storage-io:fallback';

/** What `walnut:storage-io:fallback` carries. */
export interface StorageIoFallbackMessage {
  requested: 'auto';
  backend: 'sync-fs';
  reason: string;
}

const fallback = channel(STORAGE_IO_FALLBACK_CHANNEL);

/**
 * Why `auto` prefers a ring, as `describe().reason` says it: the trade the bench measures
 * (bench/README.md, W2, W3 and W6), so that a user who wants the other side knows to ask.
 */
const AUTO_PICKS_IO_URING =
  "io_uring keeps writes and fdatasync off the event loop, which sync-fs blocks for each (bench W6: a lower event-loop delay than sync-fs beside the same appends); backend 'sync-fs' can give more durable appends per second on a fast-flushing disk (W2, W3)";

/** Every backend name `createStorageIo` and `WALNUT_STORAGE_IO` accept. */
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'io_uring', 'sync-fs', 'memory'];

/**
 * Creates the StorageIo to use, at once. `auto` takes io_uring when this runtime can run it
 * (never on Bun or Deno, whose event loops do not deliver its completions) and a ring can be
 * created, and sync-fs otherwise, recording why in `describe().reason`. It cannot wait for a
 * completion to come back, so a process should open through `openStorageIo` first (Wal and
 * SegmentedWal do), which proves that; once that proof failed, `auto` here falls back too.
 * The environment variable WALNUT_STORAGE_IO (auto|io_uring|sync-fs|memory) overrides
 * `options.backend`. An explicit 'io_uring' that cannot work throws
 * WAL_BACKEND_UNAVAILABLE instead of silently running something else.
 */
export function createStorageIo(options: CreateStorageIoOptions = {}): StorageIo {
  const { backend, why } = chosenBackend(options);
  switch (backend) {
    case 'memory':
      return new MemoryStorageIo();
    case 'sync-fs':
      return new SyncFsStorageIo({ reason: why });
    case 'io_uring':
      return IoUringStorageIo.create(options.ioUring, why);
    case 'auto': {
      const proof = ioUringProof();
      if (proof !== undefined && !proof.works) return fallBack(why, proof.reason);
      const proven =
        proof === undefined
          ? 'a ring was created (that its completions come back through the event loop is proven by openStorageIo, not here)'
          : `a ring was created and ${proof.reason}`;
      try {
        return IoUringStorageIo.create(
          options.ioUring,
          `${why}: ${proven}. ${AUTO_PICKS_IO_URING}`,
        );
      } catch (error) {
        const reason = isWalError(error) ? error.details.reason : undefined;
        if (typeof reason === 'string') return fallBack(why, reason);
        return fallBack(why, error instanceof Error ? error.message : String(error));
      }
    }
  }
}

/**
 * `createStorageIo`, after proving (once per process, within a bounded wait) that an io_uring
 * completion really comes back through this runtime's event loop when the choice is `auto`.
 */
export async function openStorageIo(options: CreateStorageIoOptions = {}): Promise<StorageIo> {
  if (chosenBackend(options, 'openStorageIo').backend === 'auto') await proveIoUring();
  return createStorageIo(options);
}

function fallBack(why: string, because: string): StorageIo {
  const reason = `${why}: fell back to sync-fs because ${because}`;
  if (fallback.hasSubscribers) {
    const message: StorageIoFallbackMessage = { requested: 'auto', backend: 'sync-fs', reason };
    fallback.publish(message);
  }
  return new SyncFsStorageIo({ reason });
}

/** The backend asked for (WALNUT_STORAGE_IO first), checked, and why it is the one. */
function chosenBackend(
  options: CreateStorageIoOptions,
  caller = 'createStorageIo',
): { backend: BackendChoice; why: string } {
  checkOptions(options, caller);
  checkIoUringConfig(options.ioUring);
  const fromEnv = readEnv('WALNUT_STORAGE_IO');
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!BACKEND_CHOICES.includes(fromEnv as BackendChoice)) {
      throw new WalError(
        WalErrorCode.BAD_ARGUMENT,
        `WALNUT_STORAGE_IO must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(fromEnv)}`,
      );
    }
    return { backend: fromEnv as BackendChoice, why: `WALNUT_STORAGE_IO=${fromEnv}` };
  }
  const backend = options.backend ?? 'auto';
  if (!BACKEND_CHOICES.includes(backend)) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${JSON.stringify(backend)}`,
    );
  }
  return { backend, why: backend === 'auto' ? 'auto' : 'chosen explicitly' };
}

const OPTION_NAMES: readonly (keyof CreateStorageIoOptions)[] = ['backend', 'ioUring'];

/**
 * An options object with known keys: a backend named alone (`createStorageIo('io_uring')`,
 * as `Wal.open(dir).storageIo('io_uring')` takes it) or a misspelt key would otherwise be
 * ignored, and `auto` would run instead of what was asked for.
 */
function checkOptions(options: unknown, caller: string): void {
  if (typeof options !== 'object' || options === null) {
    badArgument(
      `${caller}(options): options`,
      `an object { backend?, ioUring? } (a backend by name: ${caller}({ backend: 'io_uring' }))`,
      options,
    );
  }
  checkOptionKeys(options, OPTION_NAMES, `${caller}()`);
}
