/**
 * @walnut/segmented, the layer under `Wal`: synchronous `appendPayload` into a 1 MiB write buffer,
 * full buffers submitted to StorageIo without waiting, one `sync()` at the end. It fits W1
 * (and writes the log that W4 replays, through segmented and through mmap-reader).
 */
import { type ContenderPlugin, type LogWriter, NotAvailable } from '../contender.js';
import { importOrReason, installedVersion } from './versions.js';
import { type CountedIo, type StorageIoLike, storageIoFactory } from './walnut-io.js';

interface SegmentedWalLike {
  appendPayload(payload: Uint8Array): bigint;
  sync(): Promise<bigint>;
  replay(): AsyncIterable<{ payload: Uint8Array }>;
  close(): Promise<void>;
}
interface SegmentedModule {
  SegmentedWal?: { open(config: { dir: string; io: StorageIoLike }): Promise<SegmentedWalLike> };
}

class SegmentedWriter implements LogWriter {
  constructor(
    private readonly wal: SegmentedWalLike,
    private readonly counted: CountedIo,
  ) {}

  append(payload: Uint8Array): undefined {
    this.wal.appendPayload(payload);
    return undefined;
  }

  async sync(): Promise<void> {
    await this.wal.sync();
  }

  async appendDurable(payload: Uint8Array): Promise<void> {
    this.wal.appendPayload(payload);
    await this.wal.sync();
  }

  syncsCompleted(): number | null {
    return this.counted.syncsCompleted();
  }

  async close(): Promise<void> {
    await this.wal.close();
    await this.counted.io.closeIo();
  }
}

export const walnutSegmented: ContenderPlugin = {
  id: 'walnut-segmented',
  label: 'Walnut segmented (io_uring)',
  workloads: ['W1', 'W4'],
  syncsInvisibleToStrace: true,
  async load() {
    const loaded = await importOrReason<SegmentedModule>('@walnut/segmented');
    if ('reason' in loaded) throw new NotAvailable(loaded.reason);
    const { SegmentedWal } = loaded.module;
    if (SegmentedWal === undefined) {
      throw new NotAvailable('@walnut/segmented does not export SegmentedWal yet');
    }
    const newIo = await storageIoFactory('io_uring');
    const open = async (dir: string) => {
      const counted = newIo();
      return { wal: await SegmentedWal.open({ dir, io: counted.io }), counted };
    };
    return {
      versions: {
        '@walnut/segmented': installedVersion('@walnut/segmented'),
        '@walnut/storage-io': installedVersion('@walnut/storage-io'),
      },
      notes: ['StorageIo io_uring; synchronous append, one sync() at the end'],
      async openWriter(dir) {
        const { wal, counted } = await open(dir);
        return new SegmentedWriter(wal, counted);
      },
      async replay(dir, visit) {
        const { wal, counted } = await open(dir);
        try {
          for await (const record of wal.replay()) visit(record.payload);
        } finally {
          await wal.close();
          await counted.io.closeIo();
        }
        return { checksumsVerified: true };
      },
    };
  },
};
