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
    },
    {
      op: Op.APPEND,
      streamId: 7,
      firstOffset: 41,
      producer: { producerId: 'p-1', epoch: 3, seq: 99 },
      payloads: [Buffer.from('a'), Buffer.alloc(0), Buffer.from('ccc')],
    },
    {
      op: Op.APPEND,
      streamId: 2 ** 40,
      firstOffset: 0,
      producer: undefined,
      payloads: [Buffer.from('x')],
    },
    { op: Op.CLOSE, streamId: 7 },
    { op: Op.DELETE, streamId: 7 },
  ];

  it.each(frames)('reads back as written (op $op)', (frame) => {
    expect(decodeFrame(encodeFrame(frame), 1n)).toEqual(frame);
  });

  it('that was cut short is WAL_CORRUPT naming its LSN', () => {
    const bytes = encodeFrame(frames[1]!);
    expect(() => decodeFrame(bytes.subarray(0, bytes.length - 2), 42n)).toThrow(
      expect.objectContaining({ code: WalErrorCode.CORRUPT, details: { lsn: 42n } }),
    );
  });
});
