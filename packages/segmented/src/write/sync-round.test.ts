import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor, RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openMemory } from '../../test/helpers.js';

/** What each `flush()` since the `from`th handed over, as `op`, `op+link` or `op+dsync`. */
const flushesSince = (io: RecordingStorageIo, from: number) =>
  io.flushes
    .slice(from)
    .map((ops) =>
      ops.map((op) => (op.link ? `${op.kind}+link` : op.dsync ? `${op.kind}+dsync` : op.kind)),
    );

/** What the rounds of three `append` + `sync()` each handed over. */
async function threeRounds(io: RecordingStorageIo, config = {}): Promise<string[][][]> {
  const wal = await openMemory(io, config);
  const rounds: string[][][] = [];
  for (let round = 1n; round <= 3n; round++) {
    wal.append({ payload: payloadFor(round) });
    const from = io.flushes.length;
    await wal.sync();
    rounds.push(flushesSince(io, from));
  }
  await wal.close();
  return rounds;
}

describe('a sync round', () => {
  it('hands its write and the fdatasync linked behind it to the StorageIo in one flush', async () => {
    // Sent apart, a backend holds the linked fdatasync until the write completes: two
    // trips through the kernel per durable round instead of one.
    const io = new RecordingStorageIo(
      new FaultyStorageIo(new MemoryStorageIo(), { dsyncWrites: false }),
    );
    expect(await threeRounds(io)).toEqual([
      [['write', 'fdatasync+link']],
      [['write', 'fdatasync+link']],
      [['write', 'fdatasync+link']],
    ]);
  });

  it('is one dsync write once everything before its write is durable', async () => {
    // The first round of a segment syncs the whole file; after it, each round's write is
    // durable on its own and no fdatasync is needed.
    const io = new RecordingStorageIo(new MemoryStorageIo());
    expect(await threeRounds(io)).toEqual([
      [['write', 'fdatasync+link']],
      [['write+dsync']],
      [['write+dsync']],
    ]);
  });

  it('links an fdatasync when an earlier write completed without a sync', async () => {
    // With a 4 KiB write buffer, 20 records of 1 KiB go out in full buffers before the
    // round: their bytes are written but not durable, which a dsync write would not cover.
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await openMemory(io, { writeBufferSize: 4096 });
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    for (let i = 2n; i <= 21n; i++) wal.append({ payload: payloadFor(i, 1024) });
    await wal.flush();
    wal.append({ payload: payloadFor(22n) });
    const from = io.flushes.length;
    await wal.sync();
    expect(flushesSince(io, from)).toEqual([['write', 'fdatasync+link']]);
    await wal.close();
  });
});
