import { crc32c } from '../crc/crc32c.js';
import { damagedFileError } from './damaged-file.js';

/** Name of the file recording the retention settings of the log's writer (FORMAT.md "Log directory"). */
export const RETENTION_FILE = 'RETENTION';

/** Retention settings as the RETENTION file records them; null: not set. */
export interface RetentionSettings {
  readonly maxBytes: number | null;
  readonly maxSegments: number | null;
  readonly maxCursorLagBytes: number | null;
  readonly intervalMs: number;
  /** A beforeDelete hook was set (what it does is the writer's code). */
  readonly beforeDelete: boolean;
}

/** Four u64 (2^64 − 1 = not set), a flags byte (bit 0: beforeDelete), then the CRC32C of the 33 bytes. */
const SIZE = 37;
const UNSET = 2n ** 64n - 1n;

export function encodeRetention(settings: RetentionSettings): Buffer {
  const buf = Buffer.alloc(SIZE);
  const limits = [settings.maxBytes, settings.maxSegments, settings.maxCursorLagBytes];
  limits.forEach((value, i) => {
    buf.writeBigUInt64LE(value === null ? UNSET : BigInt(value), i * 8);
  });
  buf.writeBigUInt64LE(BigInt(settings.intervalMs), 24);
  buf.writeUInt8(settings.beforeDelete ? 1 : 0, 32);
  buf.writeUInt32LE(crc32c(buf.subarray(0, 33)), 33);
  return buf;
}

/** The settings a RETENTION file records; WAL_CORRUPT naming `path` when its bytes do not check out. */
export function decodeRetention(bytes: Uint8Array, path: string): RetentionSettings {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length !== SIZE || b.readUInt32LE(33) !== crc32c(b.subarray(0, 33)) || b[32]! > 1) {
    throw damagedFileError(
      path,
      `${b.length} bytes, checksum mismatch or wrong size`,
      "it only records the retention settings of the log's last writer, which writes it again when it opens, so removing it is safe",
    );
  }
  const limit = (at: number) => {
    const value = b.readBigUInt64LE(at);
    return value === UNSET ? null : Number(value);
  };
  return {
    maxBytes: limit(0),
    maxSegments: limit(8),
    maxCursorLagBytes: limit(16),
    intervalMs: Number(b.readBigUInt64LE(24)),
    beforeDelete: b[32] === 1,
  };
}
