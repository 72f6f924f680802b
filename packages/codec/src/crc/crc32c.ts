import { createRequire } from 'node:module';
import { badArgument } from '../errors/errors.js';
import { type CodecAddon, loadCodecAddon } from '../native/codec-addon.js';
import { readEnv } from '../native/runtime.js';
import { isBytes } from '../values/bytes.js';
import { crc32cJs } from './crc32c-js.js';

type LongCrc = (buf: Uint8Array, start: number, end: number, seed: number) => number;

/**
 * Inputs at least this long go to the codec's addon (when it loaded): below it the
 * call's fixed cost (~50-70 ns) outweighs its speed. Measured by the crossover table of
 * `pnpm --filter @walnut/codec bench` (see the README).
 */
export const NATIVE_CRC32C_THRESHOLD = 48;

/** The same for @node-rs/crc32, the fallback when the addon is missing: its call costs more. */
const NODE_RS_THRESHOLD = 384;

/** Which CRC32C implementation serves long inputs and frame runs, and why. */
export interface Crc32cImplementation {
  /** 'addon': @walnut/codec's own native code; 'native+js': @node-rs/crc32 for long inputs only. */
  backend: 'addon' | 'native+js' | 'js';
  reason: string;
  /**
   * The code the codec's addon computes CRC32C with, when the addon loaded: it then seals,
   * verifies and walks frames (mmap-reader's too) whatever `backend` serves `crc32c()`.
   */
  addon?: 'sse4.2' | 'table';
}

const addonLoad = loadCodecAddon();
/** The codec's native addon, or null when it is off or did not load. */
export const codecAddon: CodecAddon | null = addonLoad.binding;

function loadLongCrc(): {
  fn: LongCrc | null;
  backend: Crc32cImplementation['backend'];
  reason: string;
  /** Shortest input given to `fn`. */
  from: number;
} {
  const asked = readEnv('WALNUT_CRC32C');
  if (asked === 'js')
    return {
      fn: null,
      backend: 'js',
      reason: 'WALNUT_CRC32C=js asked for pure JavaScript',
      from: Number.POSITIVE_INFINITY,
    };
  const below = (bytes: number) => `slicing-by-16 JavaScript below ${bytes} bytes`;
  if (codecAddon !== null) {
    const everyLength = asked === 'native';
    return {
      fn: codecAddon.crc32c,
      backend: 'addon',
      reason: everyLength
        ? `${addonLoad.reason} at every length (WALNUT_CRC32C=native)`
        : `${addonLoad.reason}; ${below(NATIVE_CRC32C_THRESHOLD)}`,
      from: everyLength ? 0 : NATIVE_CRC32C_THRESHOLD,
    };
  }
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c?: unknown };
    if (typeof mod.crc32c !== 'function') throw new Error('it has no crc32c export');
    const rs = mod.crc32c as (data: Uint8Array, seed?: number) => number;
    if (rs(Buffer.from('123456789')) !== 0xe3069283) throw new Error('it fails the check value');
    const fn: LongCrc = (buf, start, end, seed) =>
      rs(start === 0 && end === buf.length ? buf : buf.subarray(start, end), seed);
    return {
      fn,
      backend: 'native+js',
      reason: `${addonLoad.reason}; @node-rs/crc32 for long inputs, ${below(NODE_RS_THRESHOLD)}`,
      from: NODE_RS_THRESHOLD,
    };
  } catch (err) {
    return {
      fn: null,
      backend: 'js',
      from: Number.POSITIVE_INFINITY,
      reason: `${addonLoad.reason}; @node-rs/crc32 did not load (${(err as Error).message.split('\n')[0]}); pure JavaScript slicing-by-16`,
    };
  }
}

const long = loadLongCrc();
const longCrc = long.fn;
/** Shortest input given to native code (0 under WALNUT_CRC32C=native). */
const nativeFrom = long.from;

/** Says which CRC32C implementation this process uses and why. */
export const crc32cImplementation: Crc32cImplementation = Object.freeze({
  backend: long.backend,
  reason: long.reason,
  ...(codecAddon === null ? {} : { addon: codecAddon.implementation() }),
});

/**
 * CRC32C of `buf[start..end)`, continuing `seed` (a previous result; 0 to start fresh).
 * Internal: no argument checks, the caller guarantees the range.
 */
export function crc32cRange(buf: Uint8Array, start: number, end: number, seed: number): number {
  if (end - start >= nativeFrom && longCrc !== null) {
    const crc = longCrc(buf, start, end, seed);
    // -1: the range does not fit the view as native code sees it (a detached buffer).
    if (crc >= 0) return crc;
  }
  return crc32cJs(buf, start, end, seed);
}

/**
 * CRC32C (Castagnoli) of `data`. Pass a previous result as `seed` to continue it:
 * `crc32c(b, crc32c(a))` equals `crc32c(a ‖ b)`. Returns an unsigned 32-bit number.
 */
export function crc32c(data: Uint8Array, seed = 0): number {
  if (!isBytes(data)) badArgument('data', 'a Uint8Array or Buffer', data);
  // One comparison: only an integer in 0..2^32-1 survives `>>> 0` unchanged.
  if (seed >>> 0 !== seed)
    badArgument('seed', 'an unsigned 32-bit integer (a previous crc32c result)', seed);
  return crc32cRange(data, 0, data.length, seed);
}
