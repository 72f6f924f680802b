import { describe, expect, it } from 'vitest';
import { LsnSequence } from './lsn-sequence.js';

function lsnBytes(lsn: bigint): Buffer {
  const buf = Buffer.alloc(12);
  buf.writeBigUInt64LE(lsn, 2);
  return buf;
}

describe('LsnSequence', () => {
  it('holds the LSN it starts at, above 2^32 too', () => {
    expect(new LsnSequence(1n).next).toBe(1n);
    expect(new LsnSequence(0x1234_5678_9abc_def0n).next).toBe(0x1234_5678_9abc_def0n);
  });

  it('carries into the high half when the low half passes 2^32', () => {
    const sequence = new LsnSequence(2n ** 32n - 2n);
    sequence.advance(5);
    expect(sequence.next).toBe(2n ** 32n + 3n);
    sequence.advance(2 ** 32 - 1);
    expect(sequence.next).toBe(2n ** 33n + 2n);
  });

  it('recognises its next LSN as a little-endian u64 anywhere in a buffer, and nothing else', () => {
    const sequence = new LsnSequence(2n ** 40n + 7n);
    expect(sequence.isNextAt(lsnBytes(2n ** 40n + 7n), 2)).toBe(true);
    expect(sequence.isNextAt(lsnBytes(2n ** 40n + 8n), 2)).toBe(false);
    expect(sequence.isNextAt(lsnBytes(7n), 2)).toBe(false);
    expect(sequence.isNextAt(lsnBytes(2n ** 41n + 7n), 2)).toBe(false);
  });
});
