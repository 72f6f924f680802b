import { type AddonLoad, loadAddon } from '@walnut/codec';

/**
 * The functions of `native/mmap_reader.c`: mapping and page-cache advice. Frames in a mapping
 * are walked by the codec's `walkFrames` (its addon holds the one compiled frame walk).
 */
export interface NativeMmap {
  /** Maps a file copy-on-write (writes stay in this process); `null` for a zero-length file. */
  mapFile(path: string): [ArrayBuffer | null, number, boolean];
  advise(mapping: ArrayBuffer, offset: number, length: number, advice: number): boolean;
  fadviseDontneed(path: string): boolean;
  isZeroFrom(mapping: ArrayBuffer, path: string, from: number): boolean;
}

export const Advice = {
  SEQUENTIAL: 0,
  COLD: 1,
  WILLNEED: 2,
  POPULATE_READ: 3,
  PAGEOUT: 4,
} as const;

let loaded: AddonLoad<NativeMmap> | undefined;
const FALLBACK =
  'segments are read into memory in chunks instead of mapped (one copy, same records)';

/**
 * Loads the addon once, through the loader every Walnut addon uses. A failure is kept (not
 * thrown): readers then read files, and `describeMmapSupport()` reports why.
 */
export function loadNative(): AddonLoad<NativeMmap> {
  if (loaded) return loaded;
  if (process.platform === 'win32') {
    // Not built for Windows (decision 0009): its readers read, as chosen, without a warning.
    loaded = {
      binding: null,
      reason: `the native addon is not built for Windows; ${FALLBACK}`,
      disabled: false,
    };
    return loaded;
  }
  const load = loadAddon<NativeMmap>({
    name: 'mmap-reader',
    from: { moduleUrl: import.meta.url },
    fallback: FALLBACK,
    functions: { mapFile: true, advise: true, fadviseDontneed: true, isZeroFrom: true },
  });
  // Turned off by the environment: asked again next time (the switch is read per reader).
  if (!load.disabled) loaded = load;
  return load;
}

// With the package, as the codec's addon: readers ask only once the switch is not set (mode.ts),
// and nativeFallbacks() is to list a switch or a failure before any reader was made.
loadNative();
