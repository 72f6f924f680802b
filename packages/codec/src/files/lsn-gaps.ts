import { crc32c } from '../crc/crc32c.js';
import type { WalError } from '../errors/errors.js';
import { damagedFileError } from './damaged-file.js';

/** Name of the file in a log directory listing the LSN ranges salvage recovery gave up on. */
export const GAPS_FILE = 'GAPS';

/** LSNs `from..to` (inclusive) that a salvage lost to damage: no record in the log has them. */
export interface LsnGap {
  readonly from: bigint;
  readonly to: bigint;
}

const COUNT_SIZE = 4;
const GAP_SIZE = 16;
const CRC_SIZE = 4;
/** More gaps than this in one log means salvage is the wrong tool; it also bounds a damaged count. */
const MAX_GAPS = 1 << 20;

function damaged(path: string, why: string): WalError {
  return damagedFileError(
    path,
    why,
    "it lists the LSN ranges an earlier salvage lost. Restore it from a backup, or open with recovery: 'salvage' to record the gaps again",
  );
}

/** Sorted, with overlapping and adjacent ranges merged. */
export function mergeGaps(...lists: readonly (readonly LsnGap[])[]): LsnGap[] {
  const all = lists.flat().sort((a, b) => (a.from < b.from ? -1 : a.from > b.from ? 1 : 0));
  const merged: LsnGap[] = [];
  for (const gap of all) {
    const last = merged[merged.length - 1];
    if (last !== undefined && gap.from <= last.to + 1n) {
      if (gap.to > last.to) merged[merged.length - 1] = { from: last.from, to: gap.to };
    } else {
      merged.push({ from: gap.from, to: gap.to });
    }
  }
  return merged;
}

/** Whether every LSN in `from..to` lies in a recorded gap (true for an empty range). */
export function gapsCover(gaps: readonly LsnGap[], from: bigint, to: bigint): boolean {
  if (to < from) return true;
  for (const gap of gaps) if (gap.from <= from && gap.to >= to) return true;
  return false;
}

/** The GAPS file's bytes (FORMAT.md "Log directory"); `gaps` must be merged (see mergeGaps). */
export function encodeGaps(gaps: readonly LsnGap[]): Buffer {
  const buf = Buffer.alloc(COUNT_SIZE + gaps.length * GAP_SIZE + CRC_SIZE);
  buf.writeUInt32LE(gaps.length, 0);
  let at = COUNT_SIZE;
  for (const gap of gaps) {
    buf.writeBigUInt64LE(gap.from, at);
    buf.writeBigUInt64LE(gap.to, at + 8);
    at += GAP_SIZE;
  }
  buf.writeUInt32LE(crc32c(buf.subarray(0, at)), at);
  return buf;
}

/** The gaps listed in a GAPS file; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeGaps(bytes: Uint8Array, path: string): LsnGap[] {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length < COUNT_SIZE + CRC_SIZE) throw damaged(path, `${b.length} bytes`);
  const count = b.readUInt32LE(0);
  const end = COUNT_SIZE + count * GAP_SIZE;
  if (count > MAX_GAPS || b.length !== end + CRC_SIZE)
    throw damaged(path, `${b.length} bytes for ${count} gaps`);
  if (crc32c(b.subarray(0, end)) !== b.readUInt32LE(end)) throw damaged(path, 'checksum mismatch');
  const gaps: LsnGap[] = [];
  for (let at = COUNT_SIZE; at < end; at += GAP_SIZE) {
    const from = b.readBigUInt64LE(at);
    const to = b.readBigUInt64LE(at + 8);
    const before = gaps[gaps.length - 1];
    if (from < 1n || to < from || (before !== undefined && from <= before.to + 1n))
      throw damaged(path, `gap ${from}..${to} is out of order or empty`);
    gaps.push({ from, to });
  }
  return gaps;
}
