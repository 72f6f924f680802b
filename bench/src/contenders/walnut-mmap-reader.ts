/**
 * @walnut/mmap-reader replaying the segments that the segmented contender wrote in W1: each
 * segment file is mapped and its records handed out as views into the mapping (zero copy),
 * every frame's CRC checked.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type ContenderPlugin, NotAvailable } from '../contender.js';
import { importOrReason, installedVersion } from './versions.js';

interface ReaderLike {
  nextRecord(): { payload: Uint8Array } | null;
  readonly stopReason: { kind: string; offset: number; reason: string } | null;
  close(): void;
}
interface MmapModule {
  MmapWalReader?: { open(path: string, options: { mode: 'mmap' }): ReaderLike };
  describeMmapSupport?: () => { addonLoaded: boolean; reason: string; crc32c?: string };
}

/** Segment files are named by their first LSN, zero-padded, so names sort in LSN order. */
const SEGMENT_NAME = /^\d{20}\.wal$/;

export const walnutMmapReader: ContenderPlugin = {
  id: 'walnut-mmap-reader',
  label: 'Walnut mmap-reader',
  workloads: ['W4'],
  replaySource: 'walnut-segmented',
  async load() {
    const loaded = await importOrReason<MmapModule>('@walnut/mmap-reader');
    if ('reason' in loaded) throw new NotAvailable(loaded.reason);
    const { MmapWalReader } = loaded.module;
    if (MmapWalReader === undefined) {
      throw new NotAvailable('@walnut/mmap-reader does not export MmapWalReader yet');
    }
    const support = loaded.module.describeMmapSupport?.();
    if (support !== undefined && !support.addonLoaded) {
      throw new NotAvailable(`mmap-reader cannot map files here: ${support.reason}`);
    }
    return {
      versions: { '@walnut/mmap-reader': installedVersion('@walnut/mmap-reader') },
      notes: [
        `reads the segments written by Walnut segmented in W1 (mmap, CRC32C ${support?.crc32c ?? 'unknown'})`,
      ],
      async replay(dir, visit) {
        const segments = readdirSync(dir)
          .filter((name) => SEGMENT_NAME.test(name))
          .sort();
        for (const name of segments) {
          const reader = MmapWalReader.open(join(dir, name), { mode: 'mmap' });
          try {
            for (let record = reader.nextRecord(); record !== null; record = reader.nextRecord()) {
              visit(record.payload);
            }
            const stop = reader.stopReason;
            if (stop !== null && stop.kind !== 'eof') {
              throw new Error(`${name} stopped at ${stop.offset}: ${stop.kind} (${stop.reason})`);
            }
          } finally {
            reader.close();
          }
        }
        return { checksumsVerified: true };
      },
      async openWriter() {
        throw new NotAvailable('mmap-reader only reads');
      },
    };
  },
};
