/**
 * The codec alone (`pnpm --filter @walnut/bench bench:codec`): encodes a million 128-byte records into a reusable 1 MiB buffer,
 * scans and verifies them back, and prints frames/s and CRC32C speed.
 */
import { crc32c, crc32cImplementation, encodeRecordFrame, FrameScanner } from '@walnut/codec';

const RECORDS = 1_000_000;
const buffer = Buffer.alloc(1 << 20);
const input = { payload: Buffer.alloc(128, 0x61) };

let encodeNs = 0n;
let scanNs = 0n;
let lsn = 1n;
let read = 0;
while (lsn <= RECORDS) {
  const t0 = process.hrtime.bigint();
  let at = 0;
  // `+= 1n`, not `++`: Node 20 optimises a bigint addition but not its increment (0109).
  while (lsn <= RECORDS && at + 148 <= buffer.length) {
    at += encodeRecordFrame(buffer, at, lsn, input);
    lsn += 1n;
  }
  const t1 = process.hrtime.bigint();
  const scanner = new FrameScanner(buffer, { end: at });
  for (let r = scanner.nextRecord(); r !== null; r = scanner.nextRecord()) {
    if (r.lsn !== BigInt(read + 1) || r.payload.length !== 128)
      throw new Error(`bad record ${read + 1}`);
    read++;
  }
  scanNs += process.hrtime.bigint() - t1;
  encodeNs += t1 - t0;
  if (scanner.stop?.kind !== 'eof') throw new Error(`scan stopped early: ${scanner.stop?.reason}`);
}

const block = Buffer.alloc(64 * 1024, 7);
let crcBytes = 0;
const c0 = process.hrtime.bigint();
while (process.hrtime.bigint() - c0 < 300_000_000n) {
  crc32c(block);
  crcBytes += block.length;
}
const crcNs = Number(process.hrtime.bigint() - c0);

const perSecond = (n: number, ns: bigint) => ((n / Number(ns)) * 1e3).toFixed(2);
console.log(`${RECORDS} records of 128 bytes, ${read} read back and verified`);
console.log(`encode: ${perSecond(RECORDS, encodeNs)} M frames/s`);
console.log(`scan+verify: ${perSecond(read, scanNs)} M frames/s`);
console.log(
  `crc32c 64 KiB: ${(crcBytes / crcNs).toFixed(2)} GB/s (${crc32cImplementation.reason})`,
);
