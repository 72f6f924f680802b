import { describe, expect, it } from 'vitest';
import { encodeRecordFrame, recordFrameSize } from '../format/records.js';
import type { FrameScanner } from '../format/scanner.js';
import { type FrameWalkOptions, walkFrameChunks } from './frame-walk.js';

/** Payload sizes: small ones, then one frame larger than the chunks, then small ones again. */
const SIZES = [40, 90, 10, 700, 30, 60, 5];
const CHUNK = 256;

function fileOfFrames(): Buffer {
  return Buffer.concat(
    SIZES.map((size, i) => {
      const input = { payload: Buffer.alloc(size, i + 1) };
      const frame = Buffer.alloc(recordFrameSize(input));
      encodeRecordFrame(frame, 0, BigInt(i + 1), input);
      return frame;
    }),
  );
}

function readOf(bytes: Buffer): FrameWalkOptions['source'] {
  return async (buf, position) => bytes.copy(buf, 0, position, position + buf.length);
}

function optionsOver(bytes: Buffer, source = readOf(bytes)): FrameWalkOptions {
  const file = { version: 1, createdAtMs: 0 };
  return { source, path: '/log/frames', start: 0, end: bytes.length, file, chunkSize: CHUNK };
}

/** Every record's payload (copied) and the buffer each chunk's scanner read from. */
async function walk(options: FrameWalkOptions) {
  const payloads: string[] = [];
  const chunks: ArrayBufferLike[] = [];
  const steps = walkFrameChunks(options);
  let step = await steps.next();
  while (step.done !== true) {
    const scanner: FrameScanner = step.value;
    for (let record = scanner.nextRecord(); record !== null; record = scanner.nextRecord()) {
      payloads.push(Buffer.from(record.payload).toString('hex'));
      chunks.push(record.payload.buffer);
    }
    step = await steps.next();
  }
  return { payloads, chunks: new Set(chunks).size, stop: step.value };
}

describe('walkFrameChunks', () => {
  it('reads every frame across chunk ends, growing a chunk for a frame larger than it', async () => {
    const bytes = fileOfFrames();
    const { payloads, chunks, stop } = await walk(optionsOver(bytes));
    expect(payloads.map((hex) => hex.length / 2)).toEqual(SIZES);
    expect(chunks).toBeGreaterThan(2);
    expect(stop).toMatchObject({ kind: 'eof', offset: bytes.length });
  });

  it('with reuseChunk, reads the same frames into one buffer (two once one frame outgrew it)', async () => {
    const options = optionsOver(fileOfFrames());
    const fresh = await walk(options);
    const reused = await walk({ ...options, reuseChunk: true });
    expect(reused.payloads).toEqual(fresh.payloads);
    expect(reused.stop).toEqual(fresh.stop);
    expect(reused.chunks).toBe(2);
  });

  it('walks a mapping in place: the same records, views of the mapping itself', async () => {
    const bytes = fileOfFrames();
    const mapped = await walk(optionsOver(bytes, bytes));
    expect(mapped.payloads).toEqual((await walk(optionsOver(bytes))).payloads);
    expect(mapped.chunks).toBe(1);
    expect(mapped.stop).toMatchObject({ kind: 'eof', offset: bytes.length });
  });

  it('says a file shorter than the walk expected is corrupt, naming it', async () => {
    const bytes = fileOfFrames();
    const short = bytes.subarray(0, bytes.length - 3);
    for (const source of [readOf(short), short])
      await expect(walk({ ...optionsOver(bytes, source) })).rejects.toMatchObject({
        code: 'WAL_CORRUPT',
        details: { segment: '/log/frames' },
      });
  });
});
