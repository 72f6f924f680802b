// The one place outside the per-kind decoders that knows what a frame body holds. Readers in
// other packages turn bodies into records and LSNs through these functions only (the layer
// test `test/layers.test.ts` refuses the layout names elsewhere), so a new body kind or a new
// encoding of a body (encryption, compression) reaches every reader by changing this file.
import { getU32 } from '../values/bytes.js';
import { malformed } from '../values/validate.js';
import { decompressBody } from './compression.js';
import { BATCH_BODY_FIXED, BodyKind, RECORD_BODY_FIXED } from './constants.js';
import type { FrameCipher } from './crypto.js';
import { RecordCursor, type RecordFile } from './record-cursor.js';
import type { WalRecord } from './record-input.js';

/** What `frameRecords` found in a body. */
export type FrameContent =
  /** Records, appended to `out` (at least one). */
  | 'records'
  /** Padding (a durable mark among them): nothing to read. */
  | 'padding'
  /** An encrypted body read without a cipher: checked by its CRC only, its records unknown. */
  | 'encrypted';

export interface FrameBodyOptions {
  /** The header of the file the body comes from (see `FrameScannerOptions.file`). */
  file?: RecordFile | undefined;
  /**
   * The file's cipher: the file is encrypted, so a body holding records must be an encrypted
   * one (plaintext padding is allowed: durable marks are written in the clear). Without it an
   * encrypted body is reported as 'encrypted', not read.
   */
  cipher?: FrameCipher | null | undefined;
}

const cursor = new RecordCursor();

/**
 * Turns the frame body `buf[start..end)` (kind byte first, CRC already checked) into its
 * records, appended to `out` in LSN order; says what it held. Payloads are views of `buf`,
 * or of the decrypted body. WAL_CORRUPT (no details: the caller knows where the frame is) when
 * the body is malformed or holds no records where records belong (a per-core entry, an
 * unknown kind, plaintext records in an encrypted file); WAL_DECRYPT_FAILED from the cipher.
 */
export function frameRecords(
  buf: Buffer,
  start: number,
  end: number,
  out: WalRecord[],
  options: FrameBodyOptions = {},
): FrameContent {
  let kind = buf[start];
  if (kind === BodyKind.PADDING) return 'padding';
  const cipher = options.cipher ?? undefined;
  if (kind === BodyKind.ENCRYPTED) {
    if (cipher === undefined) return 'encrypted';
    buf = cipher.decryptBody(buf.subarray(start, end), end - start);
    start = 0;
    end = buf.length;
    kind = buf[0];
    if (kind === BodyKind.PADDING) return 'padding';
    if (kind === BodyKind.ENCRYPTED) malformed('an encrypted body inside an encrypted body');
  } else if (cipher !== undefined) {
    malformed(`a plaintext frame (kind ${kind}) in an encrypted file`);
  }
  if (kind === BodyKind.COMPRESSED) {
    buf = decompressedBody(buf, start, end);
    start = 0;
    end = buf.length;
    kind = buf[0];
  }
  cursor.useFile(options.file);
  if (kind === BodyKind.RECORD) {
    out.push(cursor.recordAt(buf, start, end));
    return 'records';
  }
  if (kind === BodyKind.BATCH) {
    cursor.openBatch(buf, start, end);
    out.push(cursor.toRecord());
    while (cursor.inBatch) {
      cursor.nextEntry();
      out.push(cursor.toRecord());
    }
    return 'records';
  }
  return malformed(`a frame of kind ${kind} where records were expected`);
}

/**
 * The record or batch body a compressed body holds: decompressed into a buffer of its own
 * (zero-copy holds for uncompressed frames only). WAL_CORRUPT for any other kind inside.
 */
export function decompressedBody(buf: Uint8Array, start: number, end: number): Buffer {
  const plain = decompressBody(buf, start, end);
  const inner = plain[0];
  if (inner !== BodyKind.RECORD && inner !== BodyKind.BATCH)
    malformed(`a compressed body holds kind ${inner}, not records`);
  return plain;
}

/**
 * How many records the plaintext record or batch body `buf[start..end)` holds, read from its
 * fixed header alone (the rest is not checked); 0 for any other body (padding, encrypted,
 * compressed, per-core, or one too short to hold its header). A compressed body's LSNs are
 * those of the body it holds: readers get it from `FrameScanner.advanceFrame`, which
 * decompresses (and decrypts) before handing a body over. With `frameFirstLsn`, this is how readers
 * that only follow LSNs (recovery, resynchronisation, cutting) read a frame.
 */
export function frameRecordCount(buf: Uint8Array, start: number, end: number): number {
  const kind = buf[start];
  if (kind === BodyKind.RECORD) return end - start >= RECORD_BODY_FIXED ? 1 : 0;
  if (kind === BodyKind.BATCH) return end - start >= BATCH_BODY_FIXED ? getU32(buf, start + 4) : 0;
  return 0;
}

/** Index in `buf` of the u64 first LSN of a body `frameRecordCount` gave a count for. */
export function frameLsnAt(buf: Uint8Array, start: number): number {
  return start + (buf[start] === BodyKind.RECORD ? 4 : 8);
}

/** The first and last LSN of a body `frameRecordCount` gives a count for, else null. */
export function frameLsns(
  buf: Buffer,
  start: number,
  end: number,
): { first: bigint; last: bigint; count: number } | null {
  const count = frameRecordCount(buf, start, end);
  if (count === 0) return null;
  const first = buf.readBigUInt64LE(frameLsnAt(buf, start));
  return { first, last: first + BigInt(count - 1), count };
}

/** Whether the body at `buf[start]` is padding (a durable mark is one): it holds nothing to read. */
export function isPaddingBody(buf: Uint8Array, start: number): boolean {
  return buf[start] === BodyKind.PADDING;
}

/** Whether the body at `buf[start]` is encrypted (its CRC checks without the key). */
export function isEncryptedBody(buf: Uint8Array, start: number): boolean {
  return buf[start] === BodyKind.ENCRYPTED;
}
