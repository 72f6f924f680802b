import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const KiB = 1024;

async function open(memory: MemoryStorageIo, config: object = {}) {
  const io = new FaultyStorageIo(memory, { seed: 7 });
  const wal = await SegmentedWal.open({ dir: DIR, io, zeroFillAhead: 64 * KiB, ...config });
  return { io, wal };
}

async function segmentFileSize(memory: MemoryStorageIo): Promise<number> {
  const [name] = (await memory.readdir(DIR)).filter((n) => n.endsWith('.wal'));
  return (await memory.stat(`${DIR}/${name}`))!.size;
}

/** Lets background completions run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

describe('zeroFillAhead', () => {
  it('keeps zeros past the data, and a reopened log holds exactly the records', async () => {
    const memory = new MemoryStorageIo();
    const { wal } = await open(memory);
    for (let i = 1n; i <= 20n; i++) wal.append({ payload: payloadFor(i, 200) });
    await wal.sync();
    await settle();
    await wal.close();
    // 20 frames of about 230 bytes, then at least 64 KiB of zeros.
    expect(await segmentFileSize(memory)).toBeGreaterThanOrEqual(20 * 200 + 64 * KiB);

    const { wal: again } = await open(memory);
    expect(again.nextLsn).toBe(21n);
    again.append({ payload: payloadFor(21n, 200) });
    await again.sync();
    const recs = await collect(again.replay());
    expect(recs.map((r) => r.lsn)).toEqual(Array.from({ length: 21 }, (_, i) => BigInt(i + 1)));
    for (const r of recs) expect(r.payload.equals(payloadFor(r.lsn, 200))).toBe(true);
    await again.close();
  });

  it('holds a write that would overlap a running fill, then writes it: nothing is zeroed over', async () => {
    const memory = new MemoryStorageIo();
    const { wal } = await open(memory, { zeroFillAhead: 8 * KiB, writeBufferSize: 4 * KiB });
    for (let i = 1n; i <= 200n; i++) {
      wal.append({ payload: payloadFor(i, 3000) });
      if (i % 3n === 0n) await wal.sync();
    }
    expect(await wal.sync()).toBe(200n);
    expect(wal.stats().zeroFill.heldWrites).toBeGreaterThan(0);
    await wal.close();
    const { wal: again } = await open(memory);
    const recs = await collect(again.replay());
    expect(recs.length).toBe(200);
    for (const r of recs) expect(r.payload.equals(payloadFor(r.lsn, 3000))).toBe(true);
    await again.close();
  });

  it('stops zero-filling when the disk is full, and appending goes on once space is freed', async () => {
    const memory = new MemoryStorageIo();
    const { io, wal } = await open(memory, { writeBufferSize: 4 * KiB });
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    await settle();
    io.inject({ kind: 'enospc', afterBytes: 0 });
    // More data than the zeroed runway: the writer asks for a fill, which finds no space.
    for (let i = 2n; i <= 400n; i++) wal.append({ payload: payloadFor(i, 400) });
    await expectWalError(wal.sync(), 'WAL_NO_SPACE');
    io.clearFaults();
    expect(wal.stats().zeroFill.state).toBe('stopped');
    const lsn = wal.append({ payload: payloadFor(2n) });
    expect(await wal.sync()).toBe(lsn);
    await wal.close();
  });

  it("poisons the log when a fill's fdatasync fails (the file's error state is spent)", async () => {
    const memory = new MemoryStorageIo();
    const { io, wal } = await open(memory, { writeBufferSize: 4 * KiB });
    await settle();
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 2 });
    // Past the runway without a sync: the next fdatasync is a fill's.
    for (let i = 1n; i <= 400n; i++) wal.append({ payload: payloadFor(i, 400) });
    await settle();
    expectWalError(() => wal.append({ payload: payloadFor(401n) }), 'WAL_POISONED');
    await expectWalError(wal.sync(), 'WAL_POISONED');
    await wal.close();
  });

  it("calls no round durable while a fill's fdatasync beside it has not come back clean", async () => {
    // The kernel reports a file's writeback error to one fdatasync only: when a fill's sync
    // and a round's run at once, the fill's may take the error of the round's data.
    const memory = new MemoryStorageIo();
    const { io, wal } = await open(memory, { writeBufferSize: 64 * KiB });
    await settle();
    // Past the start of the zeroed runway: the round that writes these records starts a fill
    // right behind its own write and sync, and the round's completions come back first.
    for (let i = 1n; i <= 12n; i++) wal.append({ payload: payloadFor(i, 400) });
    io.holdCompletions();
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 2 });
    const synced = wal.sync().then(
      (lsn) => ({ lsn }),
      (error: unknown) => ({ error }),
    );
    await settle();
    // Held: the round's write and its linked fdatasync, then the fill's write and fdatasync.
    expect(io.heldCompletions).toBe(4);
    io.releaseCompletions(2);
    await settle();
    io.releaseCompletions();
    const outcome = await synced;
    expect(outcome).not.toHaveProperty('lsn');
    await expectWalError(wal.sync(), 'WAL_POISONED');
    expect(wal.durableLsn).toBe(0n);
    await wal.close();
  });
});
