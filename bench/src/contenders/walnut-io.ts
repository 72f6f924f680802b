/**
 * Creating the StorageIo a Walnut contender runs on, and counting the sync operations it
 * completes. io_uring syncs are not syscalls, so strace cannot see them; the count comes from
 * the backend's completion path instead (every backend delivers each completion through one
 * method, which the bench observes without changing what it does). A write submitted with
 * `dsync` (RWF_DSYNC: durable when it completes) counts as a sync once it completed in full.
 */
import { NotAvailable } from '../contender.js';
import { importOrReason } from './versions.js';

export interface StorageIoLike {
  describe(): { backend: string; reason: string };
  closeIo(): Promise<void>;
}

interface StorageIoModule {
  IoUringStorageIo?: { create(config?: object, reason?: string): StorageIoLike };
  SyncFsStorageIo?: new (options?: { reason?: string }) => StorageIoLike;
  ioUringAvailability?: () => { available: boolean; reason: string };
}

export type WalnutBackend = 'io_uring' | 'sync-fs';

export interface CountedIo {
  readonly io: StorageIoLike;
  /** Sync operations (fdatasync/fsync, dsync writes) that completed successfully; null if not observable. */
  syncsCompleted(): number | null;
}

type Deliver = (token: number, op: string, fd: number, requested: number, result: number) => void;
type Submit = (fd: number, data: unknown, offset: number, options?: { dsync?: boolean }) => number;

function countSyncCompletions(io: StorageIoLike): () => number | null {
  const target = io as unknown as {
    deliver?: Deliver;
    submitWrite?: Submit;
    submitWritev?: Submit;
  };
  const { deliver, submitWrite, submitWritev } = target;
  if (typeof deliver !== 'function') return () => null;
  if (typeof submitWrite !== 'function' || typeof submitWritev !== 'function') return () => null;
  let syncs = 0;
  const dsyncTokens = new Set<number>();
  const noteDsync = (submit: Submit): Submit =>
    function (this: unknown, fd, data, offset, options) {
      const token = submit.call(this, fd, data, offset, options);
      if (options?.dsync === true) dsyncTokens.add(token);
      return token;
    };
  target.submitWrite = noteDsync(submitWrite);
  target.submitWritev = noteDsync(submitWritev);
  target.deliver = function (this: unknown, token, op, fd, requested, result) {
    if ((op === 'fdatasync' || op === 'fsync') && result === 0) syncs++;
    if (dsyncTokens.delete(token) && result === requested) syncs++;
    deliver.call(this, token, op, fd, requested, result);
  };
  return () => syncs;
}

/** A loader that makes a fresh, counted StorageIo of exactly this backend (never 'auto'). */
export async function storageIoFactory(backend: WalnutBackend): Promise<() => CountedIo> {
  const loaded = await importOrReason<StorageIoModule>('@walnut/storage-io');
  if ('reason' in loaded) throw new NotAvailable(loaded.reason);
  const module = loaded.module;
  let make: () => StorageIoLike;
  if (backend === 'io_uring') {
    const { IoUringStorageIo, ioUringAvailability } = module;
    if (IoUringStorageIo === undefined) {
      throw new NotAvailable('@walnut/storage-io does not export IoUringStorageIo');
    }
    const availability = ioUringAvailability?.();
    if (availability !== undefined && !availability.available) {
      throw new NotAvailable(`io_uring unavailable: ${availability.reason}`);
    }
    make = () => IoUringStorageIo.create({}, 'bench: io_uring contender');
  } else {
    const { SyncFsStorageIo } = module;
    if (SyncFsStorageIo === undefined) {
      throw new NotAvailable('@walnut/storage-io does not export SyncFsStorageIo');
    }
    make = () => new SyncFsStorageIo({ reason: 'bench: sync-fs contender' });
  }
  // Creating one now turns a missing native addon into "not available" before any run.
  let probe: StorageIoLike;
  try {
    probe = make();
  } catch (error) {
    throw new NotAvailable(`${backend} backend cannot be created (${(error as Error).message})`);
  }
  const actual = probe.describe().backend;
  await probe.closeIo();
  if (actual !== backend) throw new NotAvailable(`asked for ${backend}, got ${actual}`);
  return () => {
    const io = make();
    return { io, syncsCompleted: countSyncCompletions(io) };
  };
}
