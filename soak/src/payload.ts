/**
 * Self-describing payloads: who wrote a record (epoch = the cycle or power-loss round,
 * producer, sequence number) and filler bytes derived from those, so a checker can tell a
 * record some producer really appended from invented or mixed-up bytes without keeping
 * every payload in memory.
 *
 * Layout: "SOAK" | epoch u32 | producer u32 | seq u32 | size u32 | filler (size - 20 bytes).
 */
const MAGIC = 0x4b414f53; // "SOAK" little-endian
export const PAYLOAD_HEADER = 20;

export interface PayloadKey {
  epoch: number;
  producer: number;
  seq: number;
}

function fill(out: Buffer, key: PayloadKey, size: number): void {
  let x = (Math.imul(key.epoch + 1, 0x9e3779b1) ^ Math.imul(key.producer + 7, 0x85ebca6b)) >>> 0;
  x = (x ^ Math.imul(key.seq + 13, 0xc2b2ae35) ^ size) >>> 0 || 1;
  for (let i = PAYLOAD_HEADER; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
}

export function makePayload(key: PayloadKey, size: number): Buffer {
  const n = Math.max(size, PAYLOAD_HEADER);
  const out = Buffer.allocUnsafe(n);
  out.writeUInt32LE(MAGIC, 0);
  out.writeUInt32LE(key.epoch, 4);
  out.writeUInt32LE(key.producer, 8);
  out.writeUInt32LE(key.seq, 12);
  out.writeUInt32LE(n, 16);
  fill(out, key, n);
  return out;
}

/** Who wrote `payload`, or null when its bytes are not exactly what makePayload writes. */
export function readPayload(payload: Uint8Array): PayloadKey | null {
  if (payload.length < PAYLOAD_HEADER) return null;
  const b = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  if (b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(16) !== b.length) return null;
  const key = { epoch: b.readUInt32LE(4), producer: b.readUInt32LE(8), seq: b.readUInt32LE(12) };
  return makePayload(key, b.length).equals(b) ? key : null;
}
