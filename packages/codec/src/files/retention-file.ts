import { crc32c } from '../crc/crc32c.js';
import { damagedFileError } from './damaged-file.js';

/** Name of the file recording the retention settings of the log's writer (FORMAT.md "Log directory"). */
export const RETENTION_FILE = 'RETENTION';

/** Retention settings as the RETENTION file records them; null: not set. */
export interface RetentionSettings {
  readonly maxBytes: number | null;
  readonly maxSegments: number | null;
  /** Null in a file of the first layout, which had no age limit. */
  readonly maxAgeMs: number | null;
  readonly maxCursorLagBytes: number | null;
  readonly intervalMs: number;
  /** A beforeDelete hook was set (what it does is the writer's code). */
  readonly beforeDelete: boolean;
}

/** `WLRT`: the version 2 layout starts with it (the first layout had no magic). */
const MAGIC = 0x54524c57;
const VERSION = 2;
/**
 * Version 2: magic, version (u8), five u64 (maxBytes, maxSegments, maxCursorLagBytes,
 * maxAgeMs, the interval; 2^64 − 1 = not set), flags (u8, bit 0: beforeDelete), then the
 * CRC32C of the 46 bytes before it.
 */
const SIZE = 50;
const FLAGS_AT = 45;
/** Version 1 (the first release): four u64 (no maxAgeMs), flags, CRC32C of the 33 bytes. */
const V1_SIZE = 37;
const UNSET = 2n ** 64n - 1n;

export function encodeRetention(settings: RetentionSettings): Buffer {
  const buf = Buffer.alloc(SIZE);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt8(VERSION, 4);
  const values = [
    settings.maxBytes,
    settings.maxSegments,
    settings.maxCursorLagBytes,
    settings.maxAgeMs,
    settings.intervalMs,
  ];
  values.forEach((value, i) => {
    buf.writeBigUInt64LE(value === null ? UNSET : BigInt(value), 5 + i * 8);
  });
  buf.writeUInt8(settings.beforeDelete ? 1 : 0, FLAGS_AT);
  buf.writeUInt32LE(crc32c(buf.subarray(0, FLAGS_AT + 1)), FLAGS_AT + 1);
  return buf;
}

/**
 * The settings a RETENTION file records, in either layout; WAL_CORRUPT naming `path` when
 * its bytes do not check out.
 */
export function decodeRetention(bytes: Uint8Array, path: string): RetentionSettings {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const v1 = b.length === V1_SIZE;
  const flagsAt = v1 ? 32 : FLAGS_AT;
  const valid = v1
    ? checks(b, flagsAt)
    : b.length === SIZE && b.readUInt32LE(0) === MAGIC && b[4] === VERSION && checks(b, flagsAt);
  if (!valid) {
    throw damagedFileError(
      path,
      `${b.length} bytes, checksum mismatch, wrong size or unknown version`,
      "it only records the retention settings of the log's last writer, which writes it again when it opens, so removing it is safe",
    );
  }
  const limit = (at: number) => {
    const value = b.readBigUInt64LE(at);
    return value === UNSET ? null : Number(value);
  };
  const base = v1 ? 0 : 5;
  return {
    maxBytes: limit(base),
    maxSegments: limit(base + 8),
    maxAgeMs: v1 ? null : limit(base + 24),
    maxCursorLagBytes: limit(base + 16),
    intervalMs: Number(b.readBigUInt64LE(v1 ? 24 : base + 32)),
    beforeDelete: b[flagsAt] === 1,
  };
}

/** The CRC32C after the flags byte covers everything before it, and the flags are known. */
function checks(b: Buffer, flagsAt: number): boolean {
  return b[flagsAt]! <= 1 && b.readUInt32LE(flagsAt + 1) === crc32c(b.subarray(0, flagsAt + 1));
}
