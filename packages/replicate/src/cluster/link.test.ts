import { describe, expect, it } from 'vitest';
import { lastLsnInStream, type StreamPosition } from './link.js';
import { decodeHeader, encodeEpochMessage, encodeRecordsMessage } from './message.js';

function endingWith(message: Buffer): StreamPosition {
  return { seq: 7, header: decodeHeader(message, 'test#7'), crc: null, id: null };
}

describe('the last LSN the stream holds', () => {
  it('is 0n when the stream is empty', () => {
    expect(lastLsnInStream({ seq: 0, header: null, crc: null, id: null })).toBe(0n);
  });

  it('is the last LSN of a records message at its end', () => {
    const records = [{ payload: Buffer.from('a') }, { payload: Buffer.from('b') }];
    expect(lastLsnInStream(endingWith(encodeRecordsMessage(2, 11n, records)))).toBe(12n);
  });

  it('is the LSN an epoch marker at its end begins its epoch after, re-seeding or not', () => {
    expect(lastLsnInStream(endingWith(encodeEpochMessage(3, 41n)))).toBe(41n);
    expect(lastLsnInStream(endingWith(encodeEpochMessage(4, 0n, true)))).toBe(0n);
  });
});
