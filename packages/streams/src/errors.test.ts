import { isWalError, WalErrorCode } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { isStreamError, StreamErrorCode, streamError } from './errors.js';

describe('stream error codes', () => {
  it('keep the strings callers switch on', () => {
    expect(Object.values(StreamErrorCode)).toEqual([
      'WAL_STREAM_NOT_FOUND',
      'WAL_STREAM_EXPIRED',
      'WAL_STREAM_BAD_NAME',
      'WAL_STREAM_CONFLICT',
      'WAL_STREAM_CLOSED',
      'WAL_STREAM_PRODUCER_FENCED',
      'WAL_STREAM_SEQUENCE_GAP',
      'WAL_STREAM_DUPLICATE_TOO_OLD',
      'WAL_STREAM_OFFSET_MISMATCH',
      'WAL_STREAM_BAD_OFFSET',
      'WAL_STREAM_PAYLOAD_TOO_LARGE',
      'WAL_STREAM_BROKEN',
      'WAL_STREAM_SEQ_CONFLICT',
    ]);
  });

  it('are members of WalErrorCode, so isWalError names them', () => {
    const error = streamError(StreamErrorCode.NOT_FOUND, 'no stream "a"; create it first');
    expect(isWalError(error, WalErrorCode.STREAM_NOT_FOUND)).toBe(true);
    expect(Object.values(WalErrorCode)).toEqual(
      expect.arrayContaining(Object.values(StreamErrorCode)),
    );
  });

  it('are told apart from the log codes by isStreamError', () => {
    const error = streamError(StreamErrorCode.CLOSED, 'stream "a" is closed');
    expect(isStreamError(error)).toBe(true);
    expect(isStreamError(error, StreamErrorCode.CLOSED)).toBe(true);
    expect(isStreamError(error, StreamErrorCode.EXPIRED)).toBe(false);
  });
});
