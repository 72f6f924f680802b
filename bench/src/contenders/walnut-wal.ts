/**
 * Walnut's `Wal` (group commit, lifecycle) on a given StorageIo backend, writing through the
 * page cache or with direct I/O. Durable workloads (W2, W3, W6) use durability 'sync' (an
 * append resolves once it is durable; each awaited). Buffered ones use 'none', the documented
 * bulk path `appendMany` (one call and one promise per list of records, the list collected by
 * the contender as the driver hands it records one by one) and one `sync()` at the end. Two
 * more variants run W1: `appendQueued` per record (the LSN at once, no promise; an awaited
 * `append` while the queue is full), and the loop a user writes first, a plain `append()`
 * whose promise nobody awaits.
 */
import {
  type ContenderPlugin,
  type LoadedContender,
  type LogWriter,
  NotAvailable,
} from '../contender.js';
import type { WorkloadId } from '../workloads.js';
import { importOrReason, installedVersion } from './versions.js';
import {
  type CountedIo,
  type StorageIoLike,
  storageIoFactory,
  type WalnutBackend,
} from './walnut-io.js';

interface WalRecordLike {
  readonly payload: Uint8Array;
}
interface WalLike {
  append(payload: Uint8Array): Promise<bigint>;
  appendQueued?(payload: Uint8Array): bigint;
  appendMany?(payloads: readonly Uint8Array[]): Promise<bigint>;
  sync(): Promise<bigint>;
  replay(from: bigint, fn: (record: WalRecordLike) => void): Promise<void>;
  iterator?(from: bigint): AsyncIterable<WalRecordLike>;
  stats(): { storage: { directIo?: { state: string; reason: string } } };
  close(): Promise<void>;
}
interface WalBuilderLike {
  durability(mode: 'sync' | 'none'): WalBuilderLike;
  storageIo(io: StorageIoLike): WalBuilderLike;
  directIo?(on: boolean): WalBuilderLike;
  build(): Promise<WalLike>;
}
interface WalModule {
  Wal?: { open(dir: string): WalBuilderLike };
}

/**
 * How W1 and W5 append: `appendMany` over lists of records (the documented bulk path),
 * `appendQueued` per record (for records that come one at a time), or the loop a user
 * writes first.
 */
type AppendPath = 'many' | 'queued' | 'plain';

/** `appendMany`'s list: this many records, or fewer that hold this many bytes. */
const LIST_RECORDS = 1024;
const LIST_BYTES = 1024 * 1024;

class WalWriter implements LogWriter {
  private readonly list: Uint8Array[] = [];
  private listBytes = 0;

  constructor(
    private readonly wal: WalLike,
    private readonly counted: CountedIo,
    private readonly appendPath: AppendPath,
  ) {}

  append(payload: Uint8Array): undefined | Promise<bigint> {
    if (this.appendPath === 'many') {
      this.list.push(payload);
      this.listBytes += payload.length;
      if (this.list.length < LIST_RECORDS && this.listBytes < LIST_BYTES) return undefined;
      return this.appendList();
    }
    if (this.appendPath === 'plain') {
      // `for (…) wal.append(p)` with no await: the promise is dropped, as a user's loop
      // drops it. A rejection would end the child with an unhandled rejection: a failed run.
      void this.wal.append(payload);
      return undefined;
    }
    if (this.wal.appendQueued === undefined) return this.wal.append(payload);
    try {
      this.wal.appendQueued(payload);
      return undefined;
    } catch (error) {
      // The queue is full: wait for room the way the API offers it.
      if ((error as { code?: string }).code === 'WAL_BACKPRESSURE') return this.wal.append(payload);
      throw error;
    }
  }

  /** The list is copied during the call: it is reused at once. */
  private appendList(): Promise<bigint> {
    if (this.wal.appendMany === undefined) throw new NotAvailable('@walnut/wal has no appendMany');
    const appended = this.wal.appendMany(this.list);
    this.list.length = 0;
    this.listBytes = 0;
    return appended;
  }

  async sync(): Promise<void> {
    if (this.list.length > 0) await this.appendList();
    await this.wal.sync();
  }

  appendDurable(payload: Uint8Array): Promise<bigint> {
    return this.wal.append(payload);
  }

  syncsCompleted(): number | null {
    return this.counted.syncsCompleted();
  }

  async close(): Promise<void> {
    await this.wal.close();
    await this.counted.io.closeIo();
  }
}

/** Each append awaited until durable; the others buffer and sync once. */
const DURABLE_WORKLOADS: readonly WorkloadId[] = ['W2', 'W3', 'W6'];

/** How W4 reads the log back: the callback `replay`, or `for await` over `iterator`. */
type ReadPath = 'replay' | 'iterator';

async function readBack(wal: WalLike, path: ReadPath, visit: (payload: Uint8Array) => void) {
  if (path === 'replay') return wal.replay(1n, (record) => visit(record.payload));
  if (wal.iterator === undefined) throw new NotAvailable('@walnut/wal has no iterator() yet');
  for await (const record of wal.iterator(1n)) visit(record.payload);
}

interface WalVariant {
  directIo?: boolean;
  readPath?: ReadPath;
  appendPath?: AppendPath;
}

async function loadWal(backend: WalnutBackend, variant: WalVariant = {}): Promise<LoadedContender> {
  const { directIo = false, readPath = 'replay', appendPath = 'many' } = variant;
  const loaded = await importOrReason<WalModule>('@walnut/wal');
  if ('reason' in loaded) throw new NotAvailable(loaded.reason);
  const { Wal } = loaded.module;
  if (Wal === undefined) throw new NotAvailable('@walnut/wal does not export Wal yet');
  const newIo = await storageIoFactory(backend);
  const open = async (dir: string, durability: 'sync' | 'none') => {
    const counted = newIo();
    let builder = Wal.open(dir).durability(durability).storageIo(counted.io);
    if (directIo) {
      if (builder.directIo === undefined) {
        throw new NotAvailable('@walnut/wal has no directIo option yet');
      }
      builder = builder.directIo(true);
    }
    const wal = await builder.build();
    const direct = wal.stats().storage.directIo;
    if (directIo && direct?.state !== 'on') {
      await wal.close();
      await counted.io.closeIo();
      // A silent fallback to the page cache would be measured under the wrong name.
      throw new NotAvailable(`direct I/O is not possible in ${dir}: ${direct?.reason}`);
    }
    return { wal, counted };
  };
  return {
    versions: {
      '@walnut/wal': installedVersion('@walnut/wal'),
      '@walnut/storage-io': installedVersion('@walnut/storage-io'),
    },
    notes: [
      readPath === 'iterator'
        ? `StorageIo ${backend}; reads the log Walnut Wal (${backend}) wrote in W1 with \`for await (const r of wal.iterator(1n))\``
        : appendPath === 'plain'
          ? `StorageIo ${backend}; durability 'none', \`wal.append(p)\` in a loop with no await, then one sync()`
          : appendPath === 'queued'
            ? `StorageIo ${backend}; durability 'none', \`wal.appendQueued(p)\` per record (an awaited append while the queue is full), then one sync()`
            : `StorageIo ${backend}${directIo ? ', directIo (O_DIRECT segments)' : ''}; durability 'sync' (W2, W3, W6) or 'none' + appendMany over lists of ${LIST_RECORDS} records (or ${LIST_BYTES / 1024 / 1024} MiB) + sync() (W1, W5)`,
    ],
    async openWriter(dir, options) {
      const durable = DURABLE_WORKLOADS.includes(options.workload);
      const { wal, counted } = await open(dir, durable ? 'sync' : 'none');
      return new WalWriter(wal, counted, appendPath);
    },
    async replay(dir, visit) {
      const { wal, counted } = await open(dir, 'none');
      try {
        await readBack(wal, readPath, visit);
      } finally {
        await wal.close();
        await counted.io.closeIo();
      }
      return { checksumsVerified: true };
    },
  };
}

export const walnutWalIoUring: ContenderPlugin = {
  id: 'walnut-wal-io_uring',
  label: 'Walnut Wal (io_uring)',
  workloads: ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'],
  syncsInvisibleToStrace: true,
  load: () => loadWal('io_uring'),
};

/** Not for W4: its log skips the page cache, so a "warm" replay would read the disk. */
export const walnutWalIoUringDirect: ContenderPlugin = {
  id: 'walnut-wal-io_uring-direct',
  label: 'Walnut Wal (io_uring, direct I/O)',
  workloads: ['W1', 'W2', 'W3', 'W5', 'W6'],
  syncsInvisibleToStrace: true,
  load: () => loadWal('io_uring', { directIo: true }),
};

export const walnutWalSyncFs: ContenderPlugin = {
  id: 'walnut-wal-sync-fs',
  label: 'Walnut Wal (sync-fs)',
  workloads: ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'],
  load: () => loadWal('sync-fs'),
};

/** W4 through `for await` over `iterator()`, the loop a user writes first, on the Wal's W1 log. */
export const walnutWalIoUringIterator: ContenderPlugin = {
  id: 'walnut-wal-io_uring-iterator',
  label: 'Walnut Wal iterator() (io_uring)',
  workloads: ['W4'],
  replaySource: 'walnut-wal-io_uring',
  load: () => loadWal('io_uring', { readPath: 'iterator' }),
};

/** W1 through `appendQueued` per record: the bulk path for records that come one at a time. */
export const walnutWalIoUringQueued: ContenderPlugin = {
  id: 'walnut-wal-io_uring-queued',
  label: 'Walnut Wal appendQueued() (io_uring)',
  workloads: ['W1'],
  syncsInvisibleToStrace: true,
  load: () => loadWal('io_uring', { appendPath: 'queued' }),
};

/** W1 through `wal.append(p)` in a loop, never awaited, then `sync()`: the loop a user writes first. */
export const walnutWalIoUringAppend: ContenderPlugin = {
  id: 'walnut-wal-io_uring-append',
  label: 'Walnut Wal append() (io_uring)',
  workloads: ['W1'],
  syncsInvisibleToStrace: true,
  load: () => loadWal('io_uring', { appendPath: 'plain' }),
};
