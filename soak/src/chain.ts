import { crc32c } from '@walnut/codec';

/**
 * The records of the cut-readers phase are chained: each names its own LSN and the CRC32C of
 * the payload of the record before it (0 for the first record kept), so a reader that hands
 * out a record of another history than the one before it (a mix across a cut) is caught.
 * A nonce makes two histories' records at one LSN differ.
 */
export function chainPayload(lsn: bigint, prevCrc: number, nonce: number, size: number): Buffer {
  const payload = Buffer.alloc(Math.max(size, CHAIN_HEADER), nonce & 0xff);
  payload.writeBigUInt64LE(lsn, 0);
  payload.writeUInt32LE(prevCrc, 8);
  payload.writeUInt32LE(nonce, 12);
  return payload;
}

const CHAIN_HEADER = 16;

/** What a chained record says of itself, with its own CRC32C. */
export function readChain(payload: Uint8Array): { lsn: bigint; prevCrc: number; crc: number } {
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.length < CHAIN_HEADER) throw new Error(`a record of ${b.length} bytes is not chained`);
  return { lsn: b.readBigUInt64LE(0), prevCrc: b.readUInt32LE(8), crc: crc32c(b) };
}
