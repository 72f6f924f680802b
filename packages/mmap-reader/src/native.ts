import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The functions of `native/mmap_reader.c`. */
export interface NativeMmap {
  /** Maps a file copy-on-write (writes stay in this process); `null` for a zero-length file. */
  mapFile(path: string): [ArrayBuffer | null, number, boolean];
  advise(mapping: ArrayBuffer, offset: number, length: number, advice: number): boolean;
  fadviseDontneed(path: string): boolean;
  scanFrames(
    mapping: ArrayBuffer,
    start: number,
    end: number,
    maxBody: number,
    table: Uint32Array,
    status: Float64Array,
  ): number;
  isZeroFrom(mapping: ArrayBuffer, path: string, from: number): boolean;
  crc32c(data: Uint8Array, seed: number): number;
  crc32cImpl(): 'sse4.2' | 'table';
  forceTableCrc(): void;
}

export const Advice = {
  SEQUENTIAL: 0,
  COLD: 1,
  WILLNEED: 2,
  POPULATE_READ: 3,
  PAGEOUT: 4,
} as const;

/** Stop codes of `scanFrames` (`native/frame_scan.h`). */
export const ScanStop = {
  TABLE_FULL: 0,
  END: 1,
  SHORT_HEADER: 2,
  ZERO_HEADER: 3,
  BAD_LENGTH: 4,
  BEYOND_END: 5,
  CRC_MISMATCH: 6,
} as const;

export type NativeLoad =
  | { ok: true; addon: NativeMmap; path: string }
  | { ok: false; error: string };

let loaded: NativeLoad | undefined;

/**
 * Loads the addon once. A failure is kept (not thrown): readers then fall back to
 * reading files, and `describeMmapSupport()` reports why.
 */
export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  const packageRoot = fileURLToPath(new URL('..', import.meta.url));
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require('node-gyp-build') as {
      (dir: string): NativeMmap;
      resolve(dir: string): string;
    };
    const path = nodeGypBuild.resolve(packageRoot);
    loaded = { ok: true, addon: require(path) as NativeMmap, path };
  } catch (error) {
    loaded = { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
  return loaded;
}
