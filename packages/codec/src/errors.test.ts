import { describe, expect, it } from 'vitest';
import { badArgument, invalidArgument, isWalError, WalError, WalErrorCode } from './errors.js';

describe('WalError', () => {
  it('goes through JSON.stringify, as a logger sends it: code, message and details, LSNs as strings', () => {
    const err = new WalError(
      WalErrorCode.REPLAY_BELOW_FLOOR,
      'replay from 3 is below the floor 10',
      {
        details: { fromLsn: 3n, floor: 10n },
      },
    );
    expect(JSON.parse(JSON.stringify(err))).toEqual({
      name: 'WalError',
      code: 'WAL_REPLAY_BELOW_FLOOR',
      message: 'replay from 3 is below the floor 10',
      details: { fromLsn: '3', floor: '10' },
    });
  });

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
