import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FrameStop, walkFrames } from '@walnut/codec';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { buildSegment, records } from '../test/segments.js';
import { describeMmapSupport } from './mode.js';
import { loadNative, type NativeMmap } from './native.js';

const loaded = loadNative();
if (loaded.binding === null)
  throw new Error(`the native addon must build for these tests: ${loaded.reason}`);
const addon: NativeMmap = loaded.binding;

let dir: string;
beforeAll(() => {
  dir = tempDir('walnut-mmap-');
});
afterAll(removeTempDirs);

function mapBytes(bytes: Uint8Array): ArrayBuffer {
  const path = join(dir, `${randomBytes(6).toString('hex')}.bin`);
  writeFileSync(path, bytes);
  return addon.mapFile(path)[0]!;
}

function scan(mapping: ArrayBuffer, start: number, tableFrames = 64) {
  const table = new Uint32Array(tableFrames * 2);
  const status = new Float64Array(2);
  const view = Buffer.from(mapping);
  const count = walkFrames(view, start, view.length, 1 << 30, status, table);
  return {
    count,
    stop: status[0],
    offset: status[1],
    table: Array.from(table.subarray(0, count * 2)),
  };
}

describe('native addon', () => {
  it('reports itself in describeMmapSupport()', () => {
    expect(describeMmapSupport()).toMatchObject({ addonLoaded: true });
  });

  it('maps a zero-length file as null', () => {
    const path = join(dir, 'empty');
    writeFileSync(path, '');
    expect(addon.mapFile(path)).toEqual([null, 0, false]);
  });

  // Frames in a mapping are walked by the codec's walkFrames (its addon's one frame walk).
  it('walks mapped frames and reports offsets and lengths relative to start', () => {
    const seg = buildSegment({ firstLsn: 1n, frames: records(3) });
    const result = scan(mapBytes(seg.bytes), 64);
    expect(result.count).toBe(3);
    expect(result.stop).toBe(FrameStop.END);
    expect(result.offset).toBe(seg.end);
    const [o0, o1, o2] = seg.frameOffsets.map((o) => o - 64);
    expect(result.table).toEqual([
      o0,
      o1! - o0! - 8,
      o1,
      o2! - o1! - 8,
      o2,
      seg.end - 64 - o2! - 8,
    ]);
  });

  it('stops when its table is full and resumes from there', () => {
    const seg = buildSegment({ firstLsn: 1n, frames: records(5) });
    const mapping = mapBytes(seg.bytes);
    const first = scan(mapping, 64, 2);
    expect([first.count, first.stop, first.offset]).toEqual([
      2,
      FrameStop.TABLE_FULL,
      seg.frameOffsets[2],
    ]);
    const rest = scan(mapping, first.offset!, 8);
    expect([rest.count, rest.stop]).toEqual([3, FrameStop.END]);
  });

  it.each([
    ['a zero header', (b: Buffer, at: number) => b.fill(0, at, at + 8), FrameStop.ZERO_HEADER],
    ['a zero length', (b: Buffer, at: number) => b.writeUInt32LE(0, at + 4), FrameStop.BAD_LENGTH],
    [
      'a length past the end',
      (b: Buffer, at: number) => b.writeUInt32LE(1e6, at + 4),
      FrameStop.BEYOND_END,
    ],
    [
      'a CRC mismatch',
      (b: Buffer, at: number) => b.writeUInt8(b[at + 9]! ^ 1, at + 9),
      FrameStop.CRC_MISMATCH,
    ],
  ] as const)('stops at %s with the frame offset', (_name, damage, code) => {
    const seg = buildSegment({ firstLsn: 1n, frames: records(3) });
    damage(seg.bytes, seg.frameOffsets[1]!);
    const result = scan(mapBytes(seg.bytes), 64);
    expect([result.count, result.stop, result.offset]).toEqual([1, code, seg.frameOffsets[1]]);
  });

  it('stops at a frame header cut short', () => {
    const seg = buildSegment({ firstLsn: 1n, frames: records(1), tail: Buffer.from([1, 2, 3]) });
    const result = scan(mapBytes(seg.bytes), 64);
    expect([result.count, result.stop, result.offset]).toEqual([
      1,
      FrameStop.SHORT_HEADER,
      seg.end,
    ]);
  });
});

describe('the switch', () => {
  it('is listed in nativeFallbacks() once the package is imported, before any reader', async () => {
    const saved = process.env.WALNUT_MMAP_READER_NATIVE;
    process.env.WALNUT_MMAP_READER_NATIVE = '0';
    vi.resetModules();
    try {
      await import('./native.js');
      const { nativeFallbacks } = await import('@walnut/codec');
      expect(nativeFallbacks()).toContainEqual({
        addon: 'mmap-reader',
        reason: 'turned off by WALNUT_MMAP_READER_NATIVE=0',
      });
    } finally {
      if (saved === undefined) delete process.env.WALNUT_MMAP_READER_NATIVE;
      else process.env.WALNUT_MMAP_READER_NATIVE = saved;
    }
  });
});
