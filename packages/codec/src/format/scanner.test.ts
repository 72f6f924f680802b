import { describe, expect, it } from 'vitest';
import { codecAddon } from '../crc/crc32c.js';
import { expectWalError } from '../testing/index.js';
import { encodeCoreEntryFrame } from './core-entry.js';
import { classifyDamage, findNextValidFrame } from './damage.js';
import { encodeFrame } from './frame.js';
import { LsnSequence } from './lsn-sequence.js';
import { encodeBatchFrame, encodeRecordFrame } from './records.js';
import { FrameScanner } from './scanner.js';

function log(n: number, tail = 0): { buf: Buffer; ends: number[] } {
  const buf = Buffer.alloc(n * 40 + tail);
  const ends: number[] = [];
  let at = 0;
  for (let i = 1; i <= n; i++) {
    at += encodeRecordFrame(buf, at, BigInt(i), { payload: Buffer.from(`record ${i}`) });
    ends.push(at);
  }
  return { buf: buf.subarray(0, at + tail), ends };
}

describe('FrameScanner', () => {
  it('reads every record then stops at eof', () => {
    const { buf, ends } = log(5);
    const scanner = new FrameScanner(buf);
    expect([...scanner.records()].map((r) => r.payload.toString())).toEqual(
      [1, 2, 3, 4, 5].map((i) => `record ${i}`),
    );
    expect(scanner.stop).toEqual({ kind: 'eof', offset: ends[4], reason: 'end of data' });
    expect(scanner.offset).toBe(ends[4]);
  });

  it('treats zero-filled space as eof', () => {
    const { buf, ends } = log(3, 4096);
    const scanner = new FrameScanner(buf, { baseOffset: 64 });
    expect([...scanner.records()]).toHaveLength(3);
    expect(scanner.stop?.kind).toBe('eof');
    expect(scanner.stop?.offset).toBe(64 + ends[2]!);
  });

  it('calls a cut last frame torn and damage before valid frames corrupt', () => {
    const { buf, ends } = log(4);
    const torn = new FrameScanner(buf.subarray(0, ends[3]! - 3));
    expect([...torn.records()]).toHaveLength(3);
    expect(torn.stop).toMatchObject({ kind: 'torn', offset: ends[2] });

    const damaged = Buffer.from(buf);
    damaged[ends[0]! + 12]! ^= 0x40;
    const corrupt = new FrameScanner(damaged);
    expect([...corrupt.records()]).toHaveLength(1);
    expect(corrupt.stop).toMatchObject({ kind: 'corrupt', offset: ends[0] });
    expect(classifyDamage(damaged, ends[0]!)).toBe('corrupt');
    expect(findNextValidFrame(damaged, ends[0]! + 1)).toBe(ends[1]);
  });

  it('yields a batch as its records in order and skips padding', () => {
    const buf = Buffer.alloc(256);
    let at = encodeBatchFrame(buf, 0, 1n, [
      { payload: Buffer.from('a') },
      { payload: Buffer.from('b') },
    ]);
    at += encodeFrame(buf, at, Buffer.from([4, 0, 0, 0]));
    at += encodeRecordFrame(buf, at, 3n, { payload: Buffer.from('c') });
    const records = [...new FrameScanner(buf.subarray(0, at)).records()];
    expect(records.map((r) => [r.lsn, r.payload.toString()])).toEqual([
      [1n, 'a'],
      [2n, 'b'],
      [3n, 'c'],
    ]);
  });

  it.skipIf(codecAddon === null)(
    'gives the time of the last record a run passed, over padding after it and runs before it',
    () => {
      const buf = Buffer.alloc(512);
      let at = encodeRecordFrame(buf, 0, 1n, { payload: Buffer.from('a') }, 5);
      at += encodeBatchFrame(buf, at, 2n, [{ payload: Buffer.from('b') }], 9);
      at += encodeFrame(buf, at, Buffer.from([4, 0, 0, 0]));
      const oneRun = new FrameScanner(buf.subarray(0, at));
      expect(oneRun.passLsnRun(new LsnSequence(1n))).toBe(2);
      expect(oneRun.lastRunTime(1000)).toBe(1009);

      const gapAt = at;
      at += encodeRecordFrame(buf, at, 4n, { payload: Buffer.from('d') }, 20);
      at += encodeRecordFrame(buf, at, 5n, { payload: Buffer.from('e') });
      const twoRuns = new FrameScanner(buf.subarray(0, at));
      const sequence = new LsnSequence(1n);
      expect(twoRuns.passLsnRun(sequence)).toBe(2);
      expect(twoRuns.offset).toBe(gapAt);
      // Past the frame that broke the run (LSN 4 where 3 was due), read on its own, and the
      // sequence moved past it by hand: the next run's last record has no time.
      expect(twoRuns.advanceFrame()).toBe(true);
      sequence.advance(2);
      expect(twoRuns.passLsnRun(sequence)).toBe(1);
      expect(twoRuns.lastRunTime(1000)).toBeUndefined();
      expect(twoRuns.passLsnRun(sequence)).toBe(0);
      expect(twoRuns.lastRunTime(1000)).toBeUndefined();

      const paddingOnly = Buffer.alloc(64);
      const padded = encodeFrame(paddingOnly, 0, Buffer.from([4, 0, 0, 0]));
      const none = new FrameScanner(paddingOnly.subarray(0, padded));
      expect(none.passLsnRun(new LsnSequence(1n))).toBe(0);
      expect(none.lastRunTime(1000)).toBeUndefined();
    },
  );

  it('stops as corrupt at a per-core entry in a record log', () => {
    const buf = Buffer.alloc(128);
    const at = encodeCoreEntryFrame(buf, 0, {
      op: 'epochBarrier',
      coreId: 0,
      epoch: 1n,
      sequence: 1n,
      timestampNs: 0n,
    });
    const scanner = new FrameScanner(buf.subarray(0, at));
    expect(scanner.nextRecord()).toBeNull();
    expect(scanner.stop).toMatchObject({ kind: 'corrupt', offset: 0 });
    expect(new FrameScanner(buf.subarray(0, at)).nextCoreEntry()).toMatchObject({
      op: 'epochBarrier',
    });
  });

  it('in chunked mode reports a cut frame as partial with the bytes it needs', () => {
    const { buf, ends } = log(3);
    const scanner = new FrameScanner(buf.subarray(0, ends[1]! + 5), {
      chunked: true,
      baseOffset: 100,
    });
    expect([...scanner.records()]).toHaveLength(2);
    expect(scanner.stop).toMatchObject({ kind: 'partial', offset: 100 + ends[1]!, needed: 8 });
    const header = new FrameScanner(buf.subarray(0, ends[1]! + 9), { chunked: true });
    [...header.records()];
    expect(header.stop).toMatchObject({ kind: 'partial', needed: ends[2]! - ends[1]! });
  });
});

describe('FrameScanner limits and arguments', () => {
  it('treats a frame longer than maxFrameBody as damage, never reading its body', () => {
    const buf = Buffer.alloc(512);
    let at = encodeRecordFrame(buf, 0, 1n, { payload: Buffer.alloc(200) });
    const big = at;
    at += encodeRecordFrame(buf, at, 2n, { payload: Buffer.alloc(10) });
    const corrupt = new FrameScanner(buf.subarray(0, at), { maxFrameBody: 100 });
    expect(corrupt.nextRecord()).toBeNull();
    expect(corrupt.stop).toMatchObject({ kind: 'corrupt', offset: 0 });
    expect(corrupt.stop?.reason).toMatch(/over the limit of 100/);
    const torn = new FrameScanner(buf.subarray(0, big), { maxFrameBody: 100 });
    expect(torn.nextRecord()).toBeNull();
    expect(torn.stop?.kind).toBe('torn');
  });

  it('judges a length that runs past the data without reading past it', () => {
    const buf = Buffer.alloc(64);
    const n = encodeRecordFrame(buf, 0, 1n, { payload: Buffer.alloc(8) });
    buf.writeUInt32LE(0xfffffff0, 4);
    const scanner = new FrameScanner(buf.subarray(0, n));
    expect(scanner.nextRecord()).toBeNull();
    expect(scanner.stop).toMatchObject({ kind: 'torn', offset: 0 });
  });

  it('rejects bad options with WAL_BAD_ARGUMENT', () => {
    const buf = Buffer.alloc(16);
    for (const options of [
      { start: 17 },
      { end: -1 },
      { start: 8, end: 4 },
      { maxFrameBody: 0 },
      { maxFrameBody: 2 ** 31 },
      { baseOffset: -1 },
      { cipher: {} },
    ]) {
      expectWalError(() => new FrameScanner(buf, options as never), 'WAL_BAD_ARGUMENT');
    }
    expectWalError(() => new FrameScanner('nope' as never), 'WAL_BAD_ARGUMENT');
    expectWalError(() => classifyDamage(buf, 17), 'WAL_BAD_ARGUMENT');
  });

  it('scans from start to end of a larger buffer, reporting file offsets', () => {
    const { buf, ends } = log(3);
    const padded = Buffer.concat([Buffer.alloc(10, 0xee), buf, Buffer.alloc(5, 0xee)]);
    const scanner = new FrameScanner(padded, { start: 10, end: 10 + buf.length, baseOffset: 1000 });
    expect([...scanner.records()].map((r) => r.lsn)).toEqual([1n, 2n, 3n]);
    expect(scanner.stop).toMatchObject({ kind: 'eof', offset: 1010 + ends[2]! });
  });
});
