/**
 * Demo records describe themselves: producer id, sequence number, then filler derived
 * from both. A recovered record can be checked byte for byte without keeping copies of
 * everything that was written.
 */
const HEADER = 8;

export function makePayload(producer: number, seq: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(Math.max(size, HEADER));
  buf.writeUInt32LE(producer, 0);
  buf.writeUInt32LE(seq, 4);
  fillFrom(buf, producer, seq);
  return buf;
}

/** The (producer, seq) a payload claims, or null when its bytes are not what that pair writes. */
export function checkPayload(
  payload: Uint8Array,
  size: number,
): { producer: number; seq: number } | null {
  if (payload.length !== Math.max(size, HEADER)) return null;
  const view = Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const producer = view.readUInt32LE(0);
  const seq = view.readUInt32LE(4);
  return makePayload(producer, seq, size).equals(view) ? { producer, seq } : null;
}

function fillFrom(buf: Buffer, producer: number, seq: number): void {
  // An 8-byte pattern derived from both numbers, repeated by the native fill: every
  // record's filler differs, and it costs next to nothing to make or check.
  const pattern = Buffer.allocUnsafe(8);
  pattern.writeUInt32LE(Math.imul(producer + 1, 0x9e3779b1) >>> 0, 0);
  pattern.writeUInt32LE(Math.imul(seq + 1, 0x85ebca6b) >>> 0, 4);
  if (buf.length > HEADER) buf.fill(pattern, HEADER);
}
