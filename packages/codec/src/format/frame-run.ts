import { codecAddon, crc32cRange } from '../crc/crc32c.js';
import { badArgument, invalidArgument } from '../errors/errors.js';
import { addonNumber } from '../native/addon-number.js';
import type { CodecAddon } from '../native/codec-addon.js';
import { getU32, isBytes, putU32 } from '../values/bytes.js';
import { FRAME_HEADER_SIZE, MAX_FRAME_BODY } from './constants.js';
import { checkIndex, checkMaxBody } from './damage.js';
import { FrameStop } from './frame-stop.js';

/**
 * Why `verifyFrameRun` stopped: the codes of `FrameStop` it can return (a zero frame header
 * is a length of 0, so BAD_LENGTH; it fills no table).
 */
export const FrameRunStop = {
  /** Reached `end` exactly. */
  END: FrameStop.END,
  /** Fewer than 8 bytes left. */
  SHORT_HEADER: FrameStop.SHORT_HEADER,
  /** Frame length 0 or over `maxFrameBody`. */
  BAD_LENGTH: FrameStop.BAD_LENGTH,
  /** Frame length runs past `end`. */
  BEYOND_END: FrameStop.BEYOND_END,
  /** CRC32C mismatch. */
  CRC_MISMATCH: FrameStop.CRC_MISMATCH,
} as const;
export type FrameRunStop = (typeof FrameRunStop)[keyof typeof FrameRunStop];

/** Result of `verifyFrameRun`: `count` frames verified, then a stop at `offset`. */
export interface FrameRun {
  count: number;
  /** Buffer index of the first byte not verified (end of the last verified frame). */
  offset: number;
  stop: FrameRunStop;
}

function checkRange(buf: Uint8Array, start: number, end: number): void {
  if (!isBytes(buf)) badArgument('buf', 'a Uint8Array or Buffer', buf);
  checkIndex('end', end, buf.length);
  checkIndex('start', start, end);
}

/** JavaScript twin of the addon's sealFrames. */
export function sealFramesJs(buf: Uint8Array, start: number, end: number): number {
  let p = start;
  while (end - p >= FRAME_HEADER_SIZE) {
    const len = getU32(buf, p + 4);
    if (len === 0 || len > end - p - FRAME_HEADER_SIZE) break;
    const next = p + FRAME_HEADER_SIZE + len;
    putU32(buf, p, crc32cRange(buf, p + 4, next, 0));
    p = next;
  }
  return p;
}

/** Internal: seals frames of `buf[start..end)` without argument checks; returns where it stopped. */
export const sealFramesRange: (buf: Uint8Array, start: number, end: number) => number =
  codecAddon === null ? sealFramesJs : codecAddon.sealFrames;

/**
 * Writes the CRC32C of every frame in `buf[start..end)`: the frames (length and body) must
 * already be in place, back to back, as the unsealed encoders leave them. One call seals
 * a whole write buffer (natively when the addon loaded). WAL_BAD_ARGUMENT if the frames do
 * not tile the range exactly.
 */
export function sealFrames(buf: Uint8Array, start = 0, end = buf.length): void {
  checkRange(buf, start, end);
  const stopped = sealFramesRange(buf, start, end);
  if (stopped !== end)
    invalidArgument(
      `the frame at ${stopped} does not fit [${start}, ${end}): put every frame in place (its length written) before sealing the range`,
    );
}

/** JavaScript twin of the addon's verifyFrames: the walk without a table, as in C. */
export function verifyFramesJs(
  buf: Uint8Array,
  start: number,
  end: number,
  maxBody: number,
  out: Float64Array,
): number {
  const count = walkFramesJs(buf, start, end, maxBody, out, null);
  const stop = out[0];
  // FrameRunStop has no zero-header stop: a zero header has length 0.
  out[0] = out[1]!;
  out[1] = stop === FrameStop.ZERO_HEADER ? FrameStop.BAD_LENGTH : stop!;
  return count;
}

/** Internal: verifyFrames without argument checks (native when the addon loaded). */
export const verifyFramesRange: typeof verifyFramesJs =
  codecAddon === null ? verifyFramesJs : codecAddon.verifyFrames;

const runOut = new Float64Array(2);

/**
 * JavaScript twin of `walnut_walk_frames`: the addon's walkFrames, and with a null table (no
 * limit, nothing listed) its verifyFrames.
 */
export function walkFramesJs(
  buf: Uint8Array,
  start: number,
  end: number,
  maxBody: number,
  status: Float64Array,
  table: Uint32Array | null,
): number {
  const pairs = table === null ? Number.POSITIVE_INFINITY : table.length >>> 1;
  let p = start;
  let count = 0;
  let stop: FrameStop;
  for (;;) {
    if (p === end) {
      stop = FrameStop.END;
      break;
    }
    // Table offsets are 32-bit relative to `start`; the caller resumes from here.
    if (table !== null && (count === pairs || p - start > 0xffffffff)) {
      stop = FrameStop.TABLE_FULL;
      break;
    }
    if (end - p < FRAME_HEADER_SIZE) {
      stop = FrameStop.SHORT_HEADER;
      break;
    }
    const crc = getU32(buf, p);
    const len = getU32(buf, p + 4);
    if (crc === 0 && len === 0) {
      stop = FrameStop.ZERO_HEADER;
      break;
    }
    if (len === 0 || len > maxBody) {
      stop = FrameStop.BAD_LENGTH;
      break;
    }
    if (len > end - p - FRAME_HEADER_SIZE) {
      stop = FrameStop.BEYOND_END;
      break;
    }
    const next = p + FRAME_HEADER_SIZE + len;
    if (crc32cRange(buf, p + 4, next, 0) !== crc) {
      stop = FrameStop.CRC_MISMATCH;
      break;
    }
    if (table !== null) {
      table[2 * count] = p - start;
      table[2 * count + 1] = len;
    }
    count++;
    p = next;
  }
  status[0] = stop;
  status[1] = p;
  return count;
}

const walkFramesRange: CodecAddon['walkFrames'] =
  codecAddon === null ? walkFramesJs : codecAddon.walkFrames;

/**
 * Walks whole, verified frames from `start` and lists them: frame i starts at
 * `start + table[2i]` and its body is `table[2i + 1]` bytes long. Returns how many it listed;
 * `status[0]` says why it stopped (a `FrameStop`: `TABLE_FULL` when the table is full and
 * more may follow, so call again from `status[1]`), `status[1]` where — the first frame it
 * did not list. Natively when the codec's addon loaded; mmap-reader walks its mappings with
 * it, one call per table of frames.
 */
export function walkFrames(
  buf: Uint8Array,
  start: number,
  end: number,
  maxFrameBody: number,
  status: Float64Array,
  table: Uint32Array,
): number {
  checkRange(buf, start, end);
  checkMaxBody(maxFrameBody);
  if (!(status instanceof Float64Array) || status.length < 2)
    badArgument('status', 'a Float64Array of at least 2', status);
  if (!(table instanceof Uint32Array) || table.length < 2)
    badArgument('table', 'a Uint32Array of at least 2 (one frame)', table);
  return walkFramesRange(buf, start, end, maxFrameBody, status, table);
}

/**
 * Verifies the CRC32C of consecutive frames from `start`, stopping at `end` or at the
 * first frame that is short, has a bad length or a CRC mismatch. Decoding the verified
 * frames afterwards needs no CRC work. Judging *why* the stop happened (torn, corrupt,
 * eof) is the scanner's job.
 */
export function verifyFrameRun(
  buf: Uint8Array,
  start = 0,
  end = buf.length,
  maxFrameBody: number = MAX_FRAME_BODY,
): FrameRun {
  checkRange(buf, start, end);
  checkMaxBody(maxFrameBody);
  const count = verifyFramesRange(buf, start, end, maxFrameBody, runOut);
  return { count, offset: addonNumber(runOut[0]!), stop: addonNumber(runOut[1]!) as FrameRunStop };
}
