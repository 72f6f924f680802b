import { fileURLToPath } from 'node:url';
import { addonSwitchedOff, loadAddon } from '@walnut/codec';

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

export type NativeLoad =
  | { ok: true; addon: NativeMmap; path: string }
  | { ok: false; error: string; disabled: boolean };

let loaded: NativeLoad | undefined;

/**
 * Loads the addon once, through the loader every Walnut addon uses. A failure is kept (not
 * thrown): readers then read files, and `describeMmapSupport()` reports why.
 */
export function loadNative(): NativeLoad {
  if (loaded) return loaded;
  // Turned off by the environment: asked again next time (the switch is read per reader).
  const off = addonSwitchedOff('mmap-reader');
  if (off !== null) return { ok: false, error: `turned off by ${off}`, disabled: true };
  const load = loadAddon<NativeMmap>({
    name: 'mmap-reader',
    packageRoot: fileURLToPath(new URL('..', import.meta.url)),
    fallback: 'segments are read into memory in chunks instead of mapped (one copy, same records)',
  });
  loaded =
    load.binding === null
      ? { ok: false, error: load.reason, disabled: load.disabled }
      : { ok: true, addon: load.binding, path: load.path ?? '' };
  return loaded;
}
