import {
  addonSwitchedOff,
  badArgument,
  crc32cImplementation,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { loadNative, type NativeMmap } from './native.js';

/** How a reader gets at the bytes: a copy-on-write mapping, or plain reads into the heap. */
export type ReaderMode = 'mmap' | 'read';
/** What a caller may ask for: 'auto' maps when the addon loaded, else reads. */
export type RequestedMode = ReaderMode | 'auto';

/** What this process can do, and why (for logs and `describe()`). */
export interface MmapSupport {
  /** The native addon loaded: mapping is possible. */
  addonLoaded: boolean;
  /** The mode an 'auto' reader gets right now. */
  autoMode: ReaderMode;
  /** Why 'auto' picks that mode. */
  reason: string;
  /** Where the addon was loaded from. */
  addonPath?: string;
  /** The load failure, when the addon did not load. */
  loadError?: string;
  /**
   * The CRC32C the mmap path verifies frames with: that of the codec's addon, which walks
   * them. Absent when the codec's addon did not load (frames are then verified in JavaScript).
   */
  crc32c?: 'sse4.2' | 'table';
}

export function describeMmapSupport(): MmapSupport {
  const off = addonSwitchedOff('mmap-reader');
  if (off !== null)
    return { addonLoaded: false, autoMode: 'read', reason: `${off} in the environment` };
  const native = loadNative();
  if (native.binding === null)
    return {
      addonLoaded: false,
      autoMode: 'read',
      reason: native.reason,
      loadError: native.reason,
    };
  const crc32c = crc32cImplementation.addon;
  return {
    addonLoaded: true,
    ...(native.path === undefined ? {} : { addonPath: native.path }),
    ...(crc32c === undefined ? {} : { crc32c }),
    autoMode: 'mmap',
    reason: 'native addon loaded',
  };
}

export interface ResolvedMode {
  mode: ReaderMode;
  reason: string;
  addon: NativeMmap | null;
}

/** Picks the mode for one reader. Asking for 'mmap' where it cannot work is an error. */
export function resolveMode(requested: RequestedMode = 'auto'): ResolvedMode {
  if (requested !== 'auto' && requested !== 'mmap' && requested !== 'read')
    badArgument('mode', "'auto', 'mmap' or 'read'", requested);
  if (requested === 'read')
    return { mode: 'read', reason: "mode 'read' was requested", addon: null };
  const off = addonSwitchedOff('mmap-reader');
  if (off !== null) {
    if (requested === 'mmap')
      throw new WalError(
        WalErrorCode.BACKEND_UNAVAILABLE,
        `mode 'mmap' was requested but ${off} is set; unset it or use mode 'auto'`,
      );
    return { mode: 'read', reason: `${off} in the environment`, addon: null };
  }
  const native = loadNative();
  if (native.binding === null) {
    if (requested === 'mmap')
      throw new WalError(
        WalErrorCode.BACKEND_UNAVAILABLE,
        `mode 'mmap' was requested but ${native.reason}; use mode 'auto' to read files where mapping is impossible`,
      );
    return {
      mode: 'read',
      reason: native.reason,
      addon: null,
    };
  }
  return {
    mode: 'mmap',
    reason: requested === 'mmap' ? "mode 'mmap' was requested" : 'native addon loaded',
    addon: native.binding,
  };
}
