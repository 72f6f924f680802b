import { FILE_HEADER_SIZE } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const KiB = 1024;

interface Range {
  from: number;
  to: number;
}

/** A StorageIo that records the ranges whose writeback was started. */
function recordingIo(memory = new MemoryStorageIo()) {
  const io = new FaultyStorageIo(memory, { seed: 5 });
  const ranges: Range[] = [];
  const submit = io.submitWriteback.bind(io);
  io.submitWriteback = (fd, offset, length, options) => {
    ranges.push({ from: offset, to: offset + length });
    return submit(fd, offset, length, options);
  };
  return { io, ranges, memory };
}

async function open(io: FaultyStorageIo, config: object = {}) {
  return SegmentedWal.open({
    dir: DIR,
    io,
    writebackAhead: 16 * KiB,
    writeBufferSize: 4 * KiB,
    ...config,
  });
}

describe('writebackAhead', () => {
  it('starts writeback of every 16 KiB written, in ranges that tile the data from the header on', async () => {
    const { io, ranges } = recordingIo();
    const wal = await open(io);
    for (let i = 1n; i <= 200n; i++) wal.append({ payload: payloadFor(i, 1000) });
    await wal.flush();
    await wal.close();

    expect(ranges.length).toBeGreaterThanOrEqual(10);
    expect(ranges[0]!.from).toBe(FILE_HEADER_SIZE);
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.from).toBe(ranges[i - 1]!.to);
    for (const r of ranges) expect(r.to - r.from).toBeGreaterThanOrEqual(16 * KiB);
    const stats = wal.stats().writeback;
    expect(stats).toEqual({
      state: 'on',
      ranges: ranges.length,
      bytes: ranges.reduce((sum, r) => sum + r.to - r.from, 0),
    });
  });

  it('starts none for data an fdatasync already covered', async () => {
    const { io, ranges } = recordingIo();
    const wal = await open(io);
    for (let i = 1n; i <= 200n; i++) {
      wal.append({ payload: payloadFor(i, 1000) });
      if (i % 8n === 0n) await wal.sync();
    }
    await wal.sync();
    await wal.close();
    expect(ranges).toEqual([]);
  });

  it('is off with writebackAhead 0', async () => {
    const { io, ranges } = recordingIo();
    const wal = await open(io, { writebackAhead: 0 });
    for (let i = 1n; i <= 200n; i++) wal.append({ payload: payloadFor(i, 1000) });
    await wal.flush();
    await wal.close();
    expect(ranges).toEqual([]);
    expect(wal.stats().writeback.state).toBe('off');
  });

  it('a failed writeback stops the hints, not the log', async () => {
    const { io, ranges, memory } = recordingIo();
    const wal = await open(io);
    io.inject({ kind: 'eio', op: 'writeback', nth: 1 });
    for (let i = 1n; i <= 200n; i++) wal.append({ payload: payloadFor(i, 1000) });
    expect(await wal.sync()).toBe(200n);
    expect(wal.stats().writeback.state).toBe('stopped');
    const startedBeforeTheFailureWasSeen = ranges.length;
    for (let i = 201n; i <= 400n; i++) wal.append({ payload: payloadFor(i, 1000) });
    await wal.flush();
    expect(await wal.sync()).toBe(400n);
    await wal.close();
    expect(ranges.length).toBe(startedBeforeTheFailureWasSeen);

    const again = await open(new FaultyStorageIo(memory));
    const records = await collect(again.replay());
    expect(records.length).toBe(400);
    for (const r of records) expect(r.payload.equals(payloadFor(r.lsn, 1000))).toBe(true);
    await again.close();
  });

  it('close waits for a writeback in flight before it closes the file', async () => {
    const { io, ranges } = recordingIo();
    const wal = await open(io);
    for (let i = 1n; i <= 200n; i++) wal.append({ payload: payloadFor(i, 1000) });
    // The writes complete inside close(), so their writebacks start while it runs.
    await wal.close();
    expect(ranges.length).toBeGreaterThan(0);
    // Every writeback started has completed (none can reach a file closed under it).
    expect(wal.stats().writeback).toMatchObject({ state: 'on', ranges: ranges.length });
  });
});
