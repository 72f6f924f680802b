import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  badArgument,
  invalidArgument,
  ioError,
  isWalError,
  WalError,
  WalErrorCode,
} from './errors.js';

describe('WalError', () => {
  it('carries a stable code, a message and details', () => {
    const err = new WalError(WalErrorCode.CORRUPT, 'frame damaged', {
      details: { segment: 'a.seg', offset: 12 },
    });
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe('WAL_CORRUPT');
    expect(err.details).toEqual({ segment: 'a.seg', offset: 12 });
    expect(isWalError(err, WalErrorCode.CORRUPT)).toBe(true);
    expect(isWalError(err, WalErrorCode.IO)).toBe(false);
  });

  it('badArgument names the argument, the expectation and what it got', () => {
    expect(() => badArgument('maxRecordSize', 'a positive integer', -1)).toThrow(
      /maxRecordSize must be a positive integer, got -1/,
    );
  });

  it('invalidArgument throws WAL_BAD_ARGUMENT with the message it is given', () => {
    expect(() => invalidArgument('pass a KeyRing')).toThrow(
      expect.objectContaining({ code: WalErrorCode.BAD_ARGUMENT, message: 'pass a KeyRing' }),
    );
  });
});

describe('ioError', () => {
  function nodeError(run: () => unknown): unknown {
    try {
      run();
    } catch (error) {
      return error;
    }
    throw new Error('it did not fail');
  }

  it('reports a missing file as WAL_IO with errno, syscall and path, and says what to do', () => {
    const cause = nodeError(() => readFileSync('/nonexistent/walnut/FLOOR'));
    const err = ioError(cause, 'read', '/nonexistent/walnut/FLOOR');
    expect(err).toMatchObject({
      code: WalErrorCode.IO,
      message: '/nonexistent/walnut/FLOOR does not exist; check the path',
      details: { errno: 2, syscall: 'open', segment: '/nonexistent/walnut/FLOOR' },
      cause,
    });
  });

  it('names the call that failed, and makes ENOSPC WAL_NO_SPACE', () => {
    const full = Object.assign(new Error('ENOSPC: no space left on device'), {
      errno: -28,
      code: 'ENOSPC',
    });
    expect(ioError(full, 'write', '/log/seg')).toMatchObject({
      code: WalErrorCode.NO_SPACE,
      message:
        'write /log/seg failed: ENOSPC: no space left on device; free space on that file system',
      details: { errno: 28, syscall: 'write' },
    });
  });

  it('passes a WalError through', () => {
    const err = new WalError(WalErrorCode.CORRUPT, 'bad');
    expect(ioError(err, 'read', 'x')).toBe(err);
  });
});
