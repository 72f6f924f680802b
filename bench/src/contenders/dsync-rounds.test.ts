import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NotAvailable } from '../contender.js';
import { loadCodecCrc32c } from '../floor/crc.js';
import { FRAME_HEADER_BYTES } from '../floor/framing.js';
import { dsyncRounds } from './dsync-rounds.js';

const dir = mkdtempSync(join(tmpdir(), 'walnut-dsync-rounds-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The frames at the start of `file`, up to the first empty one (the zeros after the end). */
function framesOf(file: Buffer, crc32c: (b: Uint8Array) => number): Buffer[] {
  const payloads: Buffer[] = [];
  for (let at = 0; at + FRAME_HEADER_BYTES <= file.length; ) {
    const length = file.readUInt32LE(at);
    if (length === 0) break;
    const payload = file.subarray(at + FRAME_HEADER_BYTES, at + FRAME_HEADER_BYTES + length);
    expect(crc32c(payload)).toBe(file.readUInt32LE(at + 4));
    payloads.push(payload);
    at += FRAME_HEADER_BYTES + length;
  }
  return payloads;
}

describe('the dsync-rounds contender', () => {
  it('writes every durable round whole: each partial block is carried into the next round', async () => {
    const loaded = await dsyncRounds.load().catch((error: unknown) => {
      if (error instanceof NotAvailable) return null;
      throw error;
    });
    if (loaded === null) return; // no aligned memory without the storage-io addon
    let writer: Awaited<ReturnType<typeof loaded.openWriter>>;
    try {
      writer = await loaded.openWriter(dir, { workload: 'W3', recordSize: 0, records: 0 });
    } catch (error) {
      if (error instanceof NotAvailable) return; // tmpfs: no O_DIRECT
      throw error;
    }
    // Rounds of 1 to 63 records of 1 to 700 bytes: frames cross block boundaries everywhere.
    const payloads = Array.from({ length: 600 }, (_, i) => Buffer.alloc(1 + ((i * 97) % 700), i));
    let rounds = 0;
    for (let at = 0, size = 1; at < payloads.length; at += size, size = (size % 63) + 1) {
      await Promise.all(payloads.slice(at, at + size).map((p) => writer.appendDurable(p)));
      rounds++;
    }
    expect(writer.syncsCompleted()).toBe(rounds);
    await writer.close();
    const crc32c = await loadCodecCrc32c();
    expect(framesOf(readFileSync(join(dir, 'dsync-rounds.bin')), crc32c)).toEqual(payloads);
  });
});
