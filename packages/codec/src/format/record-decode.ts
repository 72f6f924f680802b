import { badArgument } from '../errors/errors.js';
import { isBytes } from '../values/bytes.js';
import { RecordCursor, type RecordFile } from './record-cursor.js';
import type { WalRecord } from './record-input.js';

/** Decoder state shared by the functions below (they run to completion, one at a time). */
const decoder = new RecordCursor();

/**
 * Decodes the record body in `buf[start..end)` (kind byte included) in place: the payload is
 * a view of `buf`, and no view of the body is cut first. WAL_CORRUPT if malformed. `file`:
 * the header of the file it comes from (see `FrameScannerOptions.file`).
 */
export function decodeRecordAt(
  buf: Buffer,
  start: number,
  end: number,
  file?: RecordFile,
): WalRecord {
  decoder.useFile(file);
  return decoder.recordAt(buf, start, end);
}

/** Decodes a batch body in `buf[start..end)`, appending its records to `out` in order. */
export function decodeBatchAt(
  buf: Buffer,
  start: number,
  end: number,
  out: WalRecord[],
  file?: RecordFile,
): void {
  decoder.useFile(file);
  decoder.openBatch(buf, start, end);
  out.push(decoder.toRecord());
  while (decoder.inBatch) {
    decoder.nextEntry();
    out.push(decoder.toRecord());
  }
}

/** Decodes a single-record body (a frame body of kind 0x01). WAL_CORRUPT if malformed. */
export function decodeRecordBody(body: Buffer, file?: RecordFile): WalRecord {
  return decodeRecordAt(toBuffer(body), 0, body.length, file);
}

/** Decodes a batch body (kind 0x02) into its records in LSN order. WAL_CORRUPT if malformed. */
export function decodeBatchBody(body: Buffer, file?: RecordFile): WalRecord[] {
  const out: WalRecord[] = [];
  decodeBatchAt(toBuffer(body), 0, body.length, out, file);
  return out;
}

/** A Buffer view of `bytes` without copying. */
export function toBuffer(bytes: Uint8Array): Buffer {
  if (Buffer.isBuffer(bytes)) return bytes;
  if (!isBytes(bytes)) badArgument('buffer', 'a Uint8Array or Buffer', bytes);
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
