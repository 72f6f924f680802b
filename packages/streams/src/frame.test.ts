import { WalErrorCode } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame, type Frame, Op } from './frame.js';

describe('a streams frame', () => {
  const frames: Frame[] = [
    {
      op: Op.CREATE,
      streamId: 7,
      name: 'orders/é',
      createdAt: 1_700_000_000_123,
      config: { ttlMs: 5 },
      payloads: [],
      close: false,
    },
    {
      op: Op.CREATE,
      streamId: 8,
      name: 'with-records',
      createdAt: 1_700_000_000_124,
      config: {},
      payloads: [Buffer.from('first'), Buffer.alloc(0)],
      close: true,
    },
    {
      op: Op.APPEND,
      streamId: 7,
      firstOffset: 41,
      producer: { producerId: 'p-1', epoch: 3, seq: 99 },
      payloads: [Buffer.from('a'), Buffer.alloc(0), Buffer.from('ccc')],
      close: false,
      streamSeq: undefined,
    },
    {
      op: Op.APPEND,
      streamId: 7,
      firstOffset: 44,
      producer: { producerId: 'p-1', epoch: 3, seq: 100 },
      payloads: [Buffer.from('last')],
      close: true,
      streamSeq: 'seq-é-0042',
    },
    {
      op: Op.APPEND,
      streamId: 2 ** 40,
      firstOffset: 0,
      producer: undefined,
      payloads: [Buffer.from('x')],
      close: false,
      streamSeq: undefined,
    },
    { op: Op.TOUCH, streamId: 7, time: 1_700_000_000_999 },
    { op: Op.CLOSE, streamId: 7 },
    { op: Op.DELETE, streamId: 7 },
  ];

  it.each(frames)('reads back as written (op $op)', (frame) => {
    expect(decodeFrame(encodeFrame(frame), 1n)).toEqual(frame);
  });

  it('without flags is version 1, which readers before flags read; with flags, version 2', () => {
    expect(encodeFrame(frames[0]!)[0]).toBe(1);
    expect(encodeFrame(frames[2]!)[0]).toBe(1);
    expect(encodeFrame(frames[1]!)[0]).toBe(2);
    expect(encodeFrame(frames[3]!)[0]).toBe(2);
    expect(encodeFrame(frames[5]!)[0]).toBe(2);
  });

  it('lays an append out as the README says, u64 fields little-endian past 2^32 too', () => {
    const bytes = encodeFrame({
      op: Op.APPEND,
      streamId: 3,
      firstOffset: 2 ** 40 + 5,
      producer: { producerId: 'p', epoch: 2 ** 33, seq: 1 },
      payloads: [Buffer.from('hi')],
      close: false,
      streamSeq: undefined,
    });
    expect(bytes.toString('hex')).toBe(
      [
        '010200', // version 1, append, no flags
        '0300000000000000', // stream id
        '0500000000010000', // first offset 2^40 + 5
        '01', // has producer
        '0100', // id length
        '70', // "p"
        '0000000002000000', // epoch 2^33
        '0100000000000000', // seq
        '01000000', // count
        '02000000', // length
        '6869', // "hi"
      ].join(''),
    );
  });

  it('that was cut short is WAL_CORRUPT naming its LSN', () => {
    const bytes = encodeFrame(frames[2]!);
    expect(() => decodeFrame(bytes.subarray(0, bytes.length - 2), 42n)).toThrow(
      expect.objectContaining({ code: WalErrorCode.CORRUPT, details: { lsn: 42n } }),
    );
  });
});
