import { type AddonLoad, loadAddon } from './native-loader.js';

/** What the addon does beyond CRC32C of one range, the same in C and for the codec. */
interface FrameRunAddon {
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
  /**
   * The walk with a table (`walnut_walk_frames`): (offset - start, body length) pairs into
   * `table`; returns how many; status = [stop code (FrameStop), stop offset].
   */
  walkFrames(
    buf: Uint8Array,
    start: number,
    end: number,
    maxBody: number,
    status: Float64Array,
    table: Uint32Array,
  ): number;
  /**
   * Recovery's walk (`walnut_pass_lsn_run`): passes verified plaintext frames continuing the
   * LSN state = [low 32 bits, high 32 bits], sets state[2] to where it stopped and state[3]
   * to where the last frame it passed that holds records starts (-1: none); returns the
   * records passed.
   */
  passLsnRun(
    buf: Uint8Array,
    start: number,
    end: number,
    maxBody: number,
    state: Float64Array,
  ): number;
  implementation(): 'sse4.2' | 'table';
}

/** The functions `native/codec_addon.c` exports. */
interface RawCodecAddon extends FrameRunAddon {
  /**
   * CRC32C of a range of `view`, arguments and result passed through `crc32cArgs`
   * ([offset in the view, length, seed, result]); result -1 when the range does not fit
   * the view (decisions 0106 and 0108).
   */
  crc32cOf(view: Uint8Array): void;
  crc32cArgs: ArrayBuffer;
}

/** The addon as the codec uses it. */
export interface CodecAddon extends FrameRunAddon {
  /** CRC32C of buf[start..end) continuing `seed`; -1 when the range does not fit `buf` (a detached view, say). */
  crc32c(buf: Uint8Array, start: number, end: number, seed: number): number;
}

/**
 * The addon's CRC32C behind an ordinary signature. Passing the range through a shared
 * Float64Array instead of as arguments halves the cost of a call (decision 0106); passing
 * the view itself, not its `.buffer`, saves a quarter of what is left (decision 0108).
 */
function bindCrc32c(raw: RawCodecAddon): CodecAddon['crc32c'] {
  const args = new Float64Array(raw.crc32cArgs);
  const crc32cOf = raw.crc32cOf;
  return (buf, start, end, seed) => {
    args[0] = start;
    args[1] = end - start;
    args[2] = seed;
    crc32cOf(buf);
    return args[3]!;
  };
}

/**
 * Loads the addon (compiled at install or shipped prebuilt) through the loader every Walnut
 * addon uses. Never throws: every failure (disabled, not found, not this addon, wrong check
 * value) becomes `binding: null` with the reason, and the codec falls back to JavaScript.
 */
export function loadCodecAddon(): AddonLoad<CodecAddon> {
  const load = loadAddon<RawCodecAddon>({
    name: 'codec',
    from: { moduleUrl: import.meta.url },
    fallback: 'CRC32C and frame sealing run in JavaScript (slower, same bytes)',
    functions: {
      crc32cOf: true,
      sealFrames: true,
      verifyFrames: true,
      walkFrames: true,
      passLsnRun: true,
      implementation: true,
    },
    check(raw) {
      const check = Buffer.from('123456789');
      // Refuse a build that disagrees with the specification's check value.
      if (bindCrc32c(raw)(check, 0, check.length, 0) !== 0xe3069283)
        throw new Error('it fails the CRC32C check value');
    },
  });
  if (load.binding === null) return { ...load, binding: null };
  const raw = load.binding;
  const binding: CodecAddon = {
    crc32c: bindCrc32c(raw),
    sealFrames: raw.sealFrames,
    verifyFrames: raw.verifyFrames,
    walkFrames: raw.walkFrames,
    passLsnRun: raw.passLsnRun,
    implementation: raw.implementation,
  };
  return { ...load, binding, reason: `native addon (${binding.implementation()}), ${load.reason}` };
}
