import { describe, expect, it } from 'vitest';
import { unknownOption } from './unknown-option.js';

const SEGMENTED = ['dir', 'segmentTargetSize', 'writeBufferSize', 'maxRecordSize', 'recovery'];
const WAL = ['durability', 'segmentSize', 'writeBufferSize', 'maxQueueBytes'];

/** The name the message suggests, or null. */
function guess(key: string, names: readonly string[]): string | null {
  const message = unknownOption(key, names, 'open()').message;
  return /did you mean (\w+)\?/.exec(message)?.[1] ?? null;
}

describe('unknownOption names the option probably meant', () => {
  it('for a typo within two edits', () => {
    expect(guess('durabilty', WAL)).toBe('durability');
    expect(guess('WriteBufferSize', SEGMENTED)).toBe('writeBufferSize');
  });

  it("for the same option under another layer's name", () => {
    expect(guess('segmentSize', SEGMENTED)).toBe('segmentTargetSize');
    expect(guess('segmentTargetSize', WAL)).toBe('segmentSize');
    expect(guess('max_queue_bytes', WAL)).toBe('maxQueueBytes');
  });

  it('for a name spelt out in full where the short one is used, or cut short', () => {
    expect(guess('metadata', ['payload', 'meta', 'type'])).toBe('meta');
    expect(guess('durab', WAL)).toBe('durability');
  });

  it('and for nothing when no name is close, or more than one shares the words', () => {
    expect(guess('flavour', WAL)).toBeNull();
    expect(guess('size', SEGMENTED)).toBeNull();
    expect(guess('recordSize', ['maxRecordSize', 'minRecordSize'])).toBeNull();
  });

  it('always lists every option and is a WAL_BAD_ARGUMENT', () => {
    const error = unknownOption('flavour', WAL, 'Wal.open()');
    expect(error.code).toBe('WAL_BAD_ARGUMENT');
    expect(error.message).toContain(
      '(the options are durability, segmentSize, writeBufferSize, maxQueueBytes)',
    );
  });
});
