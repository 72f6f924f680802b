import { crc32cRange } from '../crc/crc32c.js';
import { badArgument } from '../errors/errors.js';
import { checkBytes } from '../values/validate.js';
import { BodyKind, FRAME_HEADER_SIZE, MAX_FRAME_BODY } from './constants.js';

/**
 * What damage where no valid frame starts is (FORMAT.md "End of log, torn tail,
 * corruption"): zero fill to the end, the remains of an interrupted write, or mid-log damage.
 */
export type DamageKind = 'eof' | 'torn' | 'corrupt';

const ZEROS = Buffer.alloc(64 * 1024);

/** True when every byte of `buf[from..to)` is zero. */
export function isZeroFilled(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i += ZEROS.length) {
    const n = Math.min(ZEROS.length, to - i);
    if (buf.compare(ZEROS, 0, n, i, i + n) !== 0) return false;
  }
  return true;
}

/** Returned by `findValidFrameIn` when it gave up after checksumming `budget` bytes. */
export const SEARCH_EXHAUSTED = -2;

/**
 * Index of the first position in `buf[from..end)` where a whole valid frame starts (its
 * length in 1..maxFrameBody, inside `end`, a known kind byte and a matching CRC), or -1.
 * Costs one 4-byte read per position plus a CRC per plausible candidate; gives up with
 * SEARCH_EXHAUSTED once the candidates' CRCs have covered `budget` bytes.
 */
export function findValidFrameIn(
  buf: Buffer,
  from: number,
  end: number,
  maxBody: number,
  budget = Number.POSITIVE_INFINITY,
): number {
  const last = end - FRAME_HEADER_SIZE - 1;
  let spent = 0;
  for (let i = from; i <= last; i++) {
    const len = plausibleBodyAt(buf, i, end, maxBody);
    if (len === 0) continue;
    spent += len;
    if (spent > budget) return SEARCH_EXHAUSTED;
    if (checksOut(buf, i, len)) return i;
  }
  return -1;
}

/**
 * The body length of the frame whose header is at `buf[i]` when it is plausible (a length
 * in 1..maxBody inside `end`, a known kind byte), else 0.
 */
function plausibleBodyAt(buf: Buffer, i: number, end: number, maxBody: number): number {
  if (end - i <= FRAME_HEADER_SIZE) return 0;
  const len = buf[i + 4]! | (buf[i + 5]! << 8) | (buf[i + 6]! << 16) | (buf[i + 7]! << 24);
  // len is negative here when its top bit is set: far beyond any limit.
  if (len < 1 || len > maxBody || len > end - i - FRAME_HEADER_SIZE) return 0;
  const kind = buf[i + FRAME_HEADER_SIZE]!;
  return kind < BodyKind.RECORD || kind > BodyKind.COMPRESSED ? 0 : len;
}

function checksOut(buf: Buffer, i: number, len: number): boolean {
  return crc32cRange(buf, i + 4, i + FRAME_HEADER_SIZE + len, 0) === buf.readUInt32LE(i);
}

/**
 * Damage whose search for a later valid frame would checksum more than this many bytes
 * (plus 64 per byte searched) is judged 'corrupt' without finishing the search. Random
 * bytes make the search cost grow with the cube of their length (more offsets, each
 * plausible with a probability and a length that both grow), and crafted bytes can do
 * worse; 'corrupt' is the verdict that never cuts data. With this budget a torn tail of
 * up to ~8 MiB of random-looking bytes is still judged exactly.
 */
const SEARCH_BUDGET_BASE = 1024 * 1024 * 1024;
const SEARCH_BUDGET_PER_BYTE = 64;

export function classifyAt(
  buf: Buffer,
  index: number,
  end: number,
  maxBody: number,
  budget = SEARCH_BUDGET_BASE + SEARCH_BUDGET_PER_BYTE * (end - index),
): DamageKind {
  if (isZeroFilled(buf, index, end)) return 'eof';
  const found = findValidFrameIn(buf, index + 1, end, maxBody, budget);
  return found === -1 ? 'torn' : 'corrupt';
}

function asBuffer(buf: Uint8Array): Buffer {
  checkBytes('buf', buf);
  return Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
}

function checkIndex(name: string, value: unknown, length: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > length)
    badArgument(name, `an integer in 0..${length} (the buffer length)`, value);
}

function checkMaxBody(value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_FRAME_BODY)
    badArgument('maxFrameBody', `an integer in 1..${MAX_FRAME_BODY}`, value);
}

/**
 * Judges the damage at `buf[index]`, where a scanner found no valid frame: 'eof' when every
 * byte from there to the end is zero, 'corrupt' when a valid frame starts anywhere after
 * it (mid-log damage), else 'torn' (the remains of an interrupted write).
 */
export function classifyDamage(
  buf: Uint8Array,
  index: number,
  maxFrameBody: number = MAX_FRAME_BODY,
): DamageKind {
  const b = asBuffer(buf);
  checkIndex('index', index, b.length);
  checkMaxBody(maxFrameBody);
  return classifyAt(b, index, b.length, maxFrameBody);
}

/** Index of the first valid frame starting at or after `from`, or -1 (an exhaustive search). */
export function findNextValidFrame(
  buf: Uint8Array,
  from: number,
  maxFrameBody: number = MAX_FRAME_BODY,
): number {
  const b = asBuffer(buf);
  checkIndex('from', from, b.length);
  checkMaxBody(maxFrameBody);
  return findValidFrameIn(b, from, b.length, maxFrameBody);
}

/**
 * The unit a disk writes whole: a write that never arrived leaves whole sectors as they were.
 * Recovery's judgement of a lost-writes hole rests on it, and so does the power-loss
 * simulation that tears writes (storage-io).
 */
export const DISK_SECTOR = 512;

/**
 * Index of the first valid frame after damage at `buf[index]` (file offset `fileOffset`)
 * when the damage is the mark of writes a power loss lost, else -1. Unsynced writes may
 * reach the disk out of order, and one that never arrived reads as zeros, whole sectors of
 * them: so zeros from `index` to the end of its sector (a zero frame header in a sector
 * that never arrived), a whole zero sector (aligned in the file) before the next valid
 * frame, or a header whose bytes before a sector boundary are zeros and whose others are
 * those of a frame ending at the next valid one (`lostHeaderStart`). A bit flip never
 * zeroes a sector, nor does a zeroed run that stops short of a sector boundary (issue 57:
 * 22 zero bytes over a synced header were taken for a hole, and the frames after it cut).
 * A frame that checks out at `index` (its body malformed) was
 * written as it is: both are damage, as is damage with no valid frame after it (a torn
 * write, for `classifyDamage`). Only for the unsynced tail of a file: in synced data a disk
 * that zeroed a sector looks the same.
 */
export function lostWritesHoleEnd(
  buf: Uint8Array,
  index: number,
  fileOffset: number,
  maxFrameBody: number = MAX_FRAME_BODY,
): number {
  const b = asBuffer(buf);
  checkIndex('index', index, b.length);
  checkMaxBody(maxFrameBody);
  if (!Number.isSafeInteger(fileOffset) || fileOffset < 0)
    badArgument('fileOffset', 'the file offset of buf[index], an integer ≥ 0', fileOffset);
  const len = plausibleBodyAt(b, index, b.length, maxFrameBody);
  if (len > 0 && checksOut(b, index, len)) return -1;
  const next = findValidFrameIn(b, index + 1, b.length, maxFrameBody);
  if (next < 0) return -1;
  const toBoundary = DISK_SECTOR - (fileOffset % DISK_SECTOR);
  if (toBoundary >= FRAME_HEADER_SIZE) {
    // The header lies in one sector, which never arrived: zeros from it to the sector's end.
    if (next >= index + toBoundary && isZeroFilled(b, index, index + toBoundary)) return next;
  } else if (lostHeaderStart(b, index, fileOffset, next, maxFrameBody)) return next;
  const firstSector = index + (toBoundary % DISK_SECTOR);
  for (let s = firstSector; s + DISK_SECTOR <= next; s += DISK_SECTOR) {
    if (isZeroFilled(b, s, s + DISK_SECTOR)) return next;
  }
  return -1;
}

/**
 * The frame at `index` lost only the first bytes of its header, those before a sector
 * boundary fewer than FRAME_HEADER_SIZE bytes on: they are zeros (the sector before the
 * boundary never arrived, the one after it did), and the bytes that survived are exactly
 * the header of a frame of the bytes up to `next`. A zero header covers the lost sector's
 * part when it is FRAME_HEADER_SIZE bytes or more; this is the shorter case, where a
 * frame begins in a sector's last bytes.
 */
function lostHeaderStart(
  b: Buffer,
  index: number,
  fileOffset: number,
  next: number,
  maxFrameBody: number,
): boolean {
  const lost = (DISK_SECTOR - (fileOffset % DISK_SECTOR)) % DISK_SECTOR;
  const bodyLength = next - index - FRAME_HEADER_SIZE;
  if (lost === 0 || lost >= FRAME_HEADER_SIZE || bodyLength < 1 || bodyLength > maxFrameBody)
    return false;
  if (!isZeroFilled(b, index, index + lost)) return false;
  const header = Buffer.alloc(FRAME_HEADER_SIZE);
  header.writeUInt32LE(bodyLength, 4);
  const crc = crc32cRange(b, index + FRAME_HEADER_SIZE, next, crc32cRange(header, 4, 8, 0));
  header.writeUInt32LE(crc, 0);
  return header.subarray(lost).equals(b.subarray(index + lost, index + FRAME_HEADER_SIZE));
}

export { asBuffer, checkIndex, checkMaxBody };
