import { FILE_HEADER_SIZE } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { DIR } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

/** A log of several sealed segments and a newest one, on `memory`. */
async function sealedLog(memory: MemoryStorageIo): Promise<string[]> {
  const wal = await SegmentedWal.open({ dir: DIR, io: memory, segmentTargetSize: 4096 });
  for (let i = 0; i < 200; i++) wal.append({ payload: Buffer.alloc(100, i) });
  await wal.sync();
  const segments = (await wal.listSegments()).map((s) => s.path);
  await wal.close();
  return segments;
}

describe('open reads the sealed segments’ headers', () => {
  it('in one submission: every header read goes to the backend in the same flush', async () => {
    const memory = new MemoryStorageIo();
    const segments = await sealedLog(memory);
    expect(segments.length).toBeGreaterThan(4);
    const io = new RecordingStorageIo(memory);
    const wal = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize: 4096 });
    await wal.close();
    const sealed = new Set(segments.slice(0, -1));
    const headerReads = io.ops.filter(
      (op) =>
        op.kind === 'read' &&
        op.offset === 0 &&
        op.length === FILE_HEADER_SIZE &&
        sealed.has(op.path ?? ''),
    );
    expect(headerReads).toHaveLength(sealed.size);
    expect(new Set(headerReads.map((op) => op.flush)).size).toBe(1);
  });
});
