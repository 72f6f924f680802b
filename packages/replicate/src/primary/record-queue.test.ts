import type { WalRecordInput } from '@walnut/codec';
import { describe, expect, it } from 'vitest';
import { RecordQueue } from './record-queue.js';

const record = (lsn: bigint): WalRecordInput => ({ payload: new Uint8Array([Number(lsn % 256n)]) });

function queued(queue: RecordQueue): bigint[] {
  const lsns: bigint[] = [];
  for (let i = queue.sendIndex; i < queue.end; i++) lsns.push(queue.lsnAt(i));
  return lsns;
}

function filled(from: bigint, to: bigint, stored = from - 1n): RecordQueue {
  const queue = new RecordQueue();
  for (let lsn = from; lsn <= to; lsn++) queue.push(lsn, record(lsn), stored);
  return queue;
}

describe('RecordQueue', () => {
  it('keeps records in LSN order, one pushed out of order among the unsent', () => {
    const queue = filled(1n, 3n);
    queue.push(5n, record(5n), 0n);
    queue.push(4n, record(4n), 0n);
    expect(queued(queue)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(queue.recordAt(3)).toEqual(record(4n));
  });

  it('never moves an out-of-order record in front of one already sent', () => {
    const queue = filled(5n, 7n, 0n);
    queue.sendIndex = 2;
    queue.push(4n, record(4n), 0n);
    queue.rewind();
    expect(queued(queue)).toEqual([5n, 6n, 4n, 7n]);
  });

  it('names the LSN that follows without a hole', () => {
    const queue = filled(11n, 12n);
    expect(queue.expectedAt(0, 10n)).toBe(11n);
    expect(queue.expectedAt(1, 10n)).toBe(12n);
    expect(queue.expectedAt(2, 10n)).toBe(13n);
  });

  it('drops what the stream holds, and keeps sending from the first record it lacks', () => {
    const queue = filled(1n, 5n);
    queue.sendIndex = 1;
    queue.dropThrough(3n);
    expect(queue.sendIndex).toBe(3);
    expect(queued(queue)).toEqual([4n, 5n]);
    expect(queue.keptFrom(3n)).toBe(3n);
    queue.dropThrough(5n);
    expect(queue.end).toBe(0);
    expect(queue.allSent).toBe(true);
    expect(queue.keptFrom(5n)).toBe(5n);
  });

  it('compacts a large dropped front without losing a record or its place', () => {
    const queue = filled(1n, 10_000n);
    queue.sendIndex = 9_000;
    queue.dropThrough(6_000n);
    expect(queue.end).toBe(4_000);
    expect(queue.lsnAt(queue.sendIndex)).toBe(9_001n);
    expect(queue.expectedAt(0, 6_000n)).toBe(6_001n);
    queue.rewind();
    expect(queue.lsnAt(queue.sendIndex)).toBe(6_001n);
  });

  it('counts records as sent up to an LSN after a rewind', () => {
    const queue = filled(1n, 5n);
    queue.sendIndex = 5;
    queue.rewind();
    queue.sentThrough(3n);
    expect(queued(queue)).toEqual([4n, 5n]);
  });

  it('inserts a page read back from the log where its LSNs belong, in chunks', () => {
    const queue = filled(20_001n, 20_003n, 0n);
    const page = Array.from({ length: 20_000 }, (_, i) => ({
      lsn: BigInt(i + 1),
      record: record(BigInt(i + 1)),
    }));
    queue.insert(page);
    expect(queue.end).toBe(20_003);
    for (let i = 0; i < queue.end; i++) expect(queue.lsnAt(i)).toBe(BigInt(i + 1));
    expect(queue.slice(19_999, 20_001)).toEqual([record(20_000n), record(20_001n)]);
  });
});
