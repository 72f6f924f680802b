import { crc32cRange } from '../crc/crc32c.js';
import { badArgument, WalError, WalErrorCode } from '../errors/errors.js';
import {
  FILE_HEADER_SIZE,
  FORMAT_VERSION,
  MAX_LSN,
  MIN_FORMAT_VERSION,
} from '../format/constants.js';
import { checkBytes, checkU64, checkUint } from '../values/validate.js';

export type FileKind = 'segment' | 'core' | 'portable';
export type CipherId = 'none' | 'aes-256-gcm';

export interface FileHeader {
  version: number;
  headerLength: number;
  /** LSN of the first record the file may hold; 0 for per-core files. */
  firstLsn: bigint;
  /** 16 random bytes chosen at creation; input of the per-file key derivation. */
  salt: Buffer;
  cipher: CipherId;
  fileKind: FileKind;
  /** Key ring id when `cipher` is not 'none', else 0. */
  keyId: number;
  /**
   * Milliseconds since the epoch when the file was created. From version 2 on, the base of
   * its records' times (each is a u32 of ms after it), so never above the first time it holds.
   */
  createdAtMs: number;
  /**
   * Version 2: the id of the log the file belongs to (u64, the same in every segment of a
   * log, chosen when the log was created; 0 for a file of no multi-file log). 0n in version 1.
   */
  logId: bigint;
  /**
   * Header flag bit 0: frames of this file may hold compressed bodies (kind 0x06). Set by a
   * writer with compression on; a reader older than compression refuses the file by this
   * flag (WAL_UNSUPPORTED_FORMAT) instead of calling its compressed frames corrupt.
   */
  compressed: boolean;
}

export interface FileHeaderInput {
  /** 1 or 2 (default FORMAT_VERSION): version 1 has no log id and no record times. */
  version?: number;
  /** Version 2 only (default 0n): see FileHeader.logId. */
  logId?: bigint;
  firstLsn: bigint;
  salt: Uint8Array;
  cipher: CipherId;
  fileKind: FileKind;
  keyId: number;
  createdAtMs?: number;
  /** Default false: see FileHeader.compressed. */
  compressed?: boolean;
}

/** Header flag: frames may be compressed (FORMAT.md, "File header"). */
const FLAG_COMPRESSED = 0x1;
const KNOWN_FLAGS = FLAG_COMPRESSED;

const MAGIC = 0x544e4c57; // 'WLNT' read as u32 LE
const SALT_SIZE = 16;
const CIPHER_CODE: Record<CipherId, number> = { none: 0, 'aes-256-gcm': 1 };
const CIPHER_BY_CODE: readonly CipherId[] = ['none', 'aes-256-gcm'];
const KIND_CODE: Record<FileKind, number> = { segment: 1, core: 2, portable: 3 };
const KIND_BY_CODE: readonly (FileKind | undefined)[] = [undefined, 'segment', 'core', 'portable'];

/** Encodes a 64-byte file header. WAL_BAD_ARGUMENT for any field out of range. */
export function encodeFileHeader(h: FileHeaderInput): Buffer {
  if (typeof h !== 'object' || h === null) badArgument('header', 'a file header object', h);
  checkU64('header.firstLsn', h.firstLsn);
  checkBytes('header.salt', h.salt);
  if (h.salt.length !== SALT_SIZE) badArgument('header.salt', '16 bytes', h.salt);
  const cipher = CIPHER_CODE[h.cipher];
  if (!Object.hasOwn(CIPHER_CODE, h.cipher))
    badArgument('header.cipher', "'none' or 'aes-256-gcm'", h.cipher);
  if (!Object.hasOwn(KIND_CODE, h.fileKind))
    badArgument('header.fileKind', "'segment', 'core' or 'portable'", h.fileKind);
  checkUint('header.keyId', h.keyId, 0xffffffff);
  if (h.cipher === 'none' && h.keyId !== 0)
    badArgument('header.keyId', "0 when cipher is 'none'", h.keyId);
  const createdAtMs = h.createdAtMs ?? Date.now();
  checkUint('header.createdAtMs', createdAtMs, Number.MAX_SAFE_INTEGER);
  const version = h.version ?? FORMAT_VERSION;
  if (version !== 1 && version !== 2) badArgument('header.version', '1 or 2', version);
  const logId = h.logId ?? 0n;
  checkU64('header.logId', logId);
  if (version === 1 && logId !== 0n)
    badArgument('header.logId', '0n in a version 1 header (it has no log id)', logId);
  const compressed = h.compressed ?? false;
  if (typeof compressed !== 'boolean') badArgument('header.compressed', 'a boolean', compressed);
  const buf = Buffer.alloc(FILE_HEADER_SIZE);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt16LE(version, 4);
  buf.writeUInt16LE(FILE_HEADER_SIZE, 6);
  buf.writeBigUInt64LE(h.firstLsn, 8);
  buf.set(h.salt, 16);
  buf[32] = cipher;
  buf[33] = KIND_CODE[h.fileKind];
  buf.writeUInt16LE(compressed ? FLAG_COMPRESSED : 0, 34);
  buf.writeUInt32LE(h.keyId, 36);
  buf.writeBigUInt64LE(BigInt(createdAtMs), 40);
  buf.writeBigUInt64LE(logId, 48);
  buf.writeUInt32LE(crc32cRange(buf, 0, 60, 0), 60);
  return buf;
}

/**
 * Whether `bytes`, all of a file shorter than a header, can be a header whose writing a
 * crash cut short: nothing but zeros (the size grew before the bytes landed), or bytes that
 * start as the magic does. Anything else is another program's file, which a writer must not
 * take for an empty one and overwrite.
 */
export function isTornHeader(bytes: Uint8Array): boolean {
  checkBytes('bytes', bytes);
  if (bytes.length >= FILE_HEADER_SIZE) return false;
  if (bytes.every((b) => b === 0)) return true;
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(MAGIC, 0);
  const start = bytes.subarray(0, 4);
  return magic.subarray(0, start.length).equals(start);
}

/**
 * Decodes and verifies a file header. WAL_CORRUPT when it is short, has the wrong magic
 * or a bad CRC; WAL_UNSUPPORTED_FORMAT for a version or a field value this build does not
 * know. `where` (a path) goes into messages and `details.segment`.
 */
export function decodeFileHeader(buf: Uint8Array, where = 'file'): FileHeader {
  checkBytes('buf', buf);
  const fail = (code: WalErrorCode, what: string, advice: string): never => {
    throw new WalError(code, `${where}: ${what}; ${advice}`, {
      details: { segment: where, offset: 0 },
    });
  };
  const notWalnut =
    'it is not a Walnut file or its header was damaged; if it is a Walnut file, restore it from a replica or backup (`walnut verify` lists every damaged file of a log)';
  if (buf.length < FILE_HEADER_SIZE)
    fail(WalErrorCode.CORRUPT, `header is ${buf.length} bytes, not ${FILE_HEADER_SIZE}`, notWalnut);
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.readUInt32LE(0) !== MAGIC) fail(WalErrorCode.CORRUPT, 'bad magic (not "WLNT")', notWalnut);
  const version = b.readUInt16LE(4);
  const upgrade = 'open it with the Walnut version that wrote it, or a newer one';
  if (version < MIN_FORMAT_VERSION || version > FORMAT_VERSION)
    fail(
      WalErrorCode.UNSUPPORTED_FORMAT,
      `format version ${version} is not one this build reads (${MIN_FORMAT_VERSION} to ${FORMAT_VERSION})`,
      upgrade,
    );
  if (b.readUInt32LE(60) !== crc32cRange(b, 0, 60, 0))
    fail(WalErrorCode.CORRUPT, 'header CRC32C mismatch', notWalnut);
  const headerLength = b.readUInt16LE(6);
  if (headerLength !== FILE_HEADER_SIZE)
    fail(
      WalErrorCode.CORRUPT,
      `header length ${headerLength} is not ${FILE_HEADER_SIZE}`,
      notWalnut,
    );
  const cipher = CIPHER_BY_CODE[b[32]!];
  if (cipher === undefined)
    fail(WalErrorCode.UNSUPPORTED_FORMAT, `unknown cipher ${b[32]}`, upgrade);
  const fileKind = KIND_BY_CODE[b[33]!];
  if (fileKind === undefined)
    fail(WalErrorCode.UNSUPPORTED_FORMAT, `unknown file kind ${b[33]}`, upgrade);
  const flags = b.readUInt16LE(34);
  if ((flags & ~KNOWN_FLAGS) !== 0)
    fail(WalErrorCode.UNSUPPORTED_FORMAT, `unknown header flags 0x${flags.toString(16)}`, upgrade);
  // Version 2 keeps its log id in the first 8 reserved bytes of version 1.
  for (let i = version === 1 ? 48 : 56; i < 60; i++)
    if (b[i] !== 0) fail(WalErrorCode.UNSUPPORTED_FORMAT, 'reserved header bytes are set', upgrade);
  const firstLsn = b.readBigUInt64LE(8);
  const created = b.readBigUInt64LE(40);
  if (created > BigInt(Number.MAX_SAFE_INTEGER))
    fail(WalErrorCode.CORRUPT, `creation time ${created} out of range`, notWalnut);
  return {
    version,
    headerLength,
    firstLsn,
    salt: Buffer.from(b.subarray(16, 32)),
    cipher: cipher!,
    fileKind: fileKind!,
    keyId: b.readUInt32LE(36),
    createdAtMs: Number(created),
    logId: version === 1 ? 0n : b.readBigUInt64LE(48),
    compressed: (flags & FLAG_COMPRESSED) !== 0,
  };
}

/** The file name of the segment whose first LSN is `firstLsn`: 20 digits + '.wal', so names sort. */
export function segmentFileName(firstLsn: bigint): string {
  checkU64('firstLsn', firstLsn);
  return `${firstLsn.toString().padStart(20, '0')}.wal`;
}

/** The first LSN named by a segment file name, or null when `name` is not one. */
export function parseSegmentFileName(name: string): bigint | null {
  if (typeof name !== 'string' || !/^\d{20}\.wal$/.test(name)) return null;
  const lsn = BigInt(name.slice(0, 20));
  return lsn <= MAX_LSN ? lsn : null;
}

/** A segment file found in a log directory: its name and the first LSN the name claims. */
export interface SegmentName {
  name: string;
  firstLsn: bigint;
}

/**
 * The segment files among `names` (a directory listing) in LSN order; every other name
 * (LOCK, FLOOR, temporary files) is left out. Listing the directory is the caller's: each
 * layer reads it its own way (node:fs, a StorageIo).
 */
export function segmentFilesIn(names: Iterable<string>): SegmentName[] {
  const found: SegmentName[] = [];
  for (const name of names) {
    const firstLsn = parseSegmentFileName(name);
    if (firstLsn !== null) found.push({ name, firstLsn });
  }
  return found.sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0));
}

/**
 * WAL_CORRUPT naming `path` when `header` is a version 2 segment of a log other than `logId`
 * (the log's id: its newest version 2 segment's; undefined when not known, or the log has
 * none). Version 1 segments have no id and pass. Every reader of a log directory calls it
 * before it hands out any record of a segment (FORMAT.md, "Log id").
 */
export function checkLogId(header: FileHeader, path: string, logId: bigint | undefined): void {
  if (logId === undefined || header.version < 2 || header.logId === logId) return;
  const hex = (id: bigint) => `0x${id.toString(16).padStart(16, '0')}`;
  throw new WalError(
    WalErrorCode.CORRUPT,
    `${path} belongs to another log (its header's log id is ${hex(header.logId)}, this log's is ${hex(logId)}): a segment of another log was copied or moved in under this name; put this log's own segment back (from a backup or replica), or remove the stray file`,
    { details: { segment: path, offset: 48, reason: 'log id mismatch' } },
  );
}
