import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openFakeWal } from '../test/fake-engine.js';
import { Batch } from './batch.js';
import { Wal } from './wal.js';

const payload = (i: number) => Buffer.from(`record-${i}`);
const payloads = (from: number, to: number) =>
  Array.from({ length: to - from }, (_, i) => payload(from + i));
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Wal.appendMany', () => {
  it('appends each payload as its own record and resolves with the last LSN, in call order shared with append', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    const first = wal.append(payload(0));
    const many = wal.appendMany(payloads(1, 4));
    expect(wal.appendQueued(payload(4))).toBe(5n);
    expect(await first).toBe(1n);
    expect(await many).toBe(4n);
    expect(await wal.appendMany([payload(5)])).toBe(6n);
    expect(engine.records.map((r) => `${r.lsn}:${r.payload}`)).toEqual(
      payloads(0, 6).map((p, i) => `${i + 1}:${p}`),
    );
    expect(wal.stats()).toMatchObject({ appends: 6, records: 6, batches: 0 });
    await wal.close();
  });

  it("in 'sync' resolves once every record of the list is durable", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'sync' });
    engine.hold = true;
    let resolved = false;
    const many = wal.appendMany(payloads(0, 10)).then((lsn) => {
      resolved = true;
      return lsn;
    });
    await tick();
    expect(resolved).toBe(false);
    engine.release();
    engine.hold = false;
    expect(await many).toBe(10n);
    expect(engine.durableLsn).toBe(10n);
    await wal.close();
  });

  it('waits for room as one append when the queue is full, in order, and copies the list it holds', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none', maxQueueBytes: 100 });
    engine.hold = true;
    wal.appendQueued(Buffer.alloc(90));
    const list = [Buffer.from('aaaaaaaa'), Buffer.from('bbbbbbbb')];
    const many = wal.appendMany(list);
    const after = wal.append(Buffer.from('cccc'));
    expect(wal.stats().blockedAppends).toBe(2);
    // The caller reuses its list and buffers at once.
    list[0]!.fill('x');
    list.length = 0;
    const syncing = wal.sync();
    await tick();
    engine.release();
    engine.hold = false;
    await syncing;
    expect(await many).toBe(3n);
    expect(await after).toBe(4n);
    expect(engine.records.slice(1).map((r) => r.payload.toString())).toEqual([
      'aaaaaaaa',
      'bbbbbbbb',
      'cccc',
    ]);
    await wal.close();
  });

  it('refuses a Proxy posing as a Buffer at once, whether or not the queue has room', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none', maxQueueBytes: 100 });
    const proxy = new Proxy(Buffer.from('posing'), {}) as Buffer;
    await expectWalError(wal.append(proxy), 'WAL_BAD_ARGUMENT');
    await expectWalError(wal.appendMany([proxy]), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.appendQueued(proxy), 'WAL_BAD_ARGUMENT');
    expectWalError(() => new Batch().add(proxy), 'WAL_BAD_ARGUMENT');
    engine.hold = true;
    wal.appendQueued(Buffer.alloc(90));
    // A full queue would copy what waits, turning the Proxy into bytes the log then took.
    await expectWalError(wal.append(proxy), 'WAL_BAD_ARGUMENT');
    await expectWalError(wal.appendMany([proxy]), 'WAL_BAD_ARGUMENT');
    expect(wal.stats().blockedAppends).toBe(0);
    engine.release();
    engine.hold = false;
    await wal.close();
    expect(engine.nextLsn).toBe(2n);
  });

  it("with backpressure 'error' a list that does not fit is refused whole", async () => {
    const { wal, engine } = await openFakeWal({
      durability: 'none',
      maxQueueBytes: 100,
      backpressure: 'error',
    });
    engine.hold = true;
    wal.appendQueued(Buffer.alloc(90));
    await expectWalError(wal.appendMany(payloads(0, 3)), 'WAL_BACKPRESSURE');
    expect(engine.nextLsn).toBe(2n);
    engine.release();
    engine.hold = false;
    await wal.close();
  });

  it('refuses a list with any bad entry before appending, and a closed log', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    for (const bad of [[payload(0), 'text'], [payload(0), null], [], payload(0), undefined]) {
      await expectWalError(wal.appendMany(bad as Uint8Array[]), 'WAL_BAD_ARGUMENT');
    }
    expect(engine.nextLsn).toBe(1n);
    expect(await wal.appendMany([payload(1)])).toBe(1n);
    await wal.close();
    await expectWalError(wal.appendMany([payload(2)]), 'WAL_CLOSED');
  });

  it.each([
    ['a Set', new Set([payload(0)]), 'got a Set (spread an iterable into an array first'],
    ['one Buffer', payload(0), 'got a Buffer of 8 bytes (for one payload call append(payload)'],
    ['a string', 'text', 'got "text" (encode text first'],
    [
      'a string entry',
      [payload(0), 'b'],
      'expected payloads[1] a Uint8Array, got "b" (encode text',
    ],
    ['a nested list', [[payload(0)]], 'expected payloads[0] a Uint8Array, got an array of 1'],
  ])('says what was wrong with %s, and what to pass instead', async (_, bad, says) => {
    const { wal } = await openFakeWal({ durability: 'none' });
    await expect(wal.appendMany(bad as Uint8Array[])).rejects.toThrow(says);
    await wal.close();
  });
});

describe('Wal.appendMany over SegmentedWal', () => {
  it('a list crossing write buffers and segments reads back in order after reopening', async () => {
    const io = new MemoryStorageIo();
    const open = () =>
      Wal.open('/log')
        .storageIo(io)
        .segmentSize(64 * 1024)
        .writeBufferSize(4096)
        .build();
    const wal = await open();
    const list = Array.from({ length: 2000 }, (_, i) =>
      Buffer.from(`row ${i} ${'y'.repeat(i % 90)}`),
    );
    expect(await wal.appendMany(list)).toBe(2000n);
    await wal.close();
    const again = await open();
    const read: string[] = [];
    await again.replay(1n, (record) => {
      read.push(`${record.lsn}:${record.payload}`);
    });
    expect(read).toEqual(list.map((p, i) => `${i + 1}:${p}`));
    expect((await again.segments()).length).toBeGreaterThan(2);
    await again.close();
  });

  it('a list with a record over maxRecordSize is refused whole, and the log goes on', async () => {
    const wal = await Wal.open('/log').storageIo(new MemoryStorageIo()).maxRecordSize(100).build();
    await expectWalError(
      wal.appendMany([Buffer.alloc(10), Buffer.alloc(101)]),
      'WAL_RECORD_TOO_LARGE',
    );
    expect(await wal.appendMany([Buffer.alloc(100)])).toBe(1n);
    expect(wal.stats().state).toBe('running');
    await wal.close();
  });
});
