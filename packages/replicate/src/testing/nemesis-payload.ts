/** The payload of append `i`: its number and bytes seeded from it, so any copy can be checked. */
export function nemesisPayload(i: number, size: number): Buffer {
  const buf = Buffer.alloc(size);
  buf.writeUInt32LE(i, 0);
  for (let j = 4; j < size; j++) buf[j] = (i * 131 + j * 17) & 0xff;
  return buf;
}
