import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The functions of `native/codec_addon.c`. */
export interface CodecAddon {
  crc32c(buf: Uint8Array, start: number, end: number, seed: number): number;
  /** Seals every frame in [start, end); returns where the walk stopped. */
  sealFrames(buf: Uint8Array, start: number, end: number): number;
  /** Verifies frames from start; returns how many; out = [stop offset, stop code]. */
  verifyFrames(
    buf: Uint8Array,
    start: number,
    end: number,
    maxBody: number,
    out: Float64Array,
  ): number;
  implementation(): string;
}

export type AddonLoad = { addon: CodecAddon; reason: string } | { addon: null; reason: string };

/**
 * Loads the addon built by `node-gyp-build` at install. Never throws: every failure
 * (disabled, not built, wrong check value) becomes `addon: null` with the reason, and
 * the codec falls back to JavaScript.
 */
export function loadCodecAddon(): AddonLoad {
  if (process.env.WALNUT_CODEC_NATIVE === '0')
    return { addon: null, reason: 'WALNUT_CODEC_NATIVE=0 turned the native addon off' };
  try {
    const require = createRequire(import.meta.url);
    const nodeGypBuild = require('node-gyp-build') as { resolve(dir: string): string };
    const path = nodeGypBuild.resolve(fileURLToPath(new URL('..', import.meta.url)));
    const addon = require(path) as CodecAddon;
    const check = Buffer.from('123456789');
    // Refuse a build that disagrees with the specification's check value.
    if (addon.crc32c(check, 0, check.length, 0) !== 0xe3069283)
      throw new Error('it fails the CRC32C check value');
    return { addon, reason: `native addon (${addon.implementation()})` };
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
    return { addon: null, reason: `the native addon did not load (${message})` };
  }
}
