import { encodeRecordFrame, type FrameScanner, recordFrameSize } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { type ChunkScanOptions, scanChunks } from './chunk-reader.js';

const PATH = '/log/frames';
/** Payload sizes: small ones, then one frame larger than the chunks, then small ones again. */
const SIZES = [40, 90, 10, 700, 30, 60, 5];
const CHUNK = 256;

async function fileOfFrames(): Promise<{ io: MemoryStorageIo; options: ChunkScanOptions }> {
  const io = new MemoryStorageIo();
  const frames = SIZES.map((size, i) => {
    const input = { payload: Buffer.alloc(size, i + 1) };
    const frame = Buffer.alloc(recordFrameSize(input));
    encodeRecordFrame(frame, 0, BigInt(i + 1), input);
    return frame;
  });
  const bytes = Buffer.concat(frames);
  await io.mkdir('/log');
  const fd = await io.open(PATH, { create: true });
  await io.write(fd, bytes, 0);
  const options = { io, fd, path: PATH, start: 0, end: bytes.length };
  const file = { version: 1, createdAtMs: 0 };
  return { io, options: { ...options, cipher: undefined, file, chunkSize: CHUNK } };
}

/** Every record's payload (copied) and the buffer each chunk's scanner read from. */
async function scan(options: ChunkScanOptions) {
  const payloads: string[] = [];
  const chunks: ArrayBufferLike[] = [];
  const walk = scanChunks(options);
  let step = await walk.next();
  while (step.done !== true) {
    const scanner: FrameScanner = step.value;
    for (let record = scanner.nextRecord(); record !== null; record = scanner.nextRecord()) {
      payloads.push(Buffer.from(record.payload).toString('hex'));
      chunks.push(record.payload.buffer);
    }
    step = await walk.next();
  }
  return { payloads, chunks: new Set(chunks).size, stop: step.value };
}

describe('scanChunks', () => {
  it('reads every frame across chunk ends, growing a chunk for a frame larger than it', async () => {
    const { options } = await fileOfFrames();
    const { payloads, chunks, stop } = await scan(options);
    expect(payloads.map((hex) => hex.length / 2)).toEqual(SIZES);
    expect(chunks).toBeGreaterThan(2);
    expect(stop).toMatchObject({ kind: 'eof', offset: options.end });
  });

  it('with reuseChunk, reads the same frames into one buffer (two once one frame outgrew it)', async () => {
    const { options } = await fileOfFrames();
    const fresh = await scan(options);
    const reused = await scan({ ...options, reuseChunk: true });
    expect(reused.payloads).toEqual(fresh.payloads);
    expect(reused.stop).toEqual(fresh.stop);
    expect(reused.chunks).toBe(2);
  });
});
