import { WalError, WalErrorCode } from '@walnut/codec';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { WalStatus } from './wal-status.js';

describe('what a Wal refuses an append with, by state', () => {
  it.each([
    ['init', WalErrorCode.BAD_STATE],
    ['draining', WalErrorCode.CLOSING],
    ['closed', WalErrorCode.CLOSED],
  ] as const)('%s: %s', (state, code) => {
    const status = new WalStatus(false);
    status.state = state;
    expect(status.appendRefusal()?.code).toBe(code);
  });

  it('running: nothing, until a failure poisons it; then WAL_POISONED caused by that failure', () => {
    const status = new WalStatus(false);
    status.state = 'running';
    expect(status.appendRefusal()).toBeUndefined();
    const failure = new WalError(WalErrorCode.IO, 'fdatasync failed');
    status.poison = failure;
    const refusal = status.appendRefusal();
    expect(refusal?.code).toBe(WalErrorCode.POISONED);
    expect(refusal?.cause).toBe(failure);
  });

  it('running read-only: WAL_READ_ONLY', () => {
    const status = new WalStatus(true);
    status.state = 'running';
    expect(status.appendRefusal()?.code).toBe(WalErrorCode.READ_ONLY);
  });
});

describe('flush and sync on a closed or poisoned Wal', () => {
  const running = () => {
    const status = new WalStatus(false);
    status.state = 'running';
    return status;
  };

  it('a healthy running Wal lets them go ahead', () => {
    expect(() => running().throwIfUnusable()).not.toThrow();
  });

  it('a poisoned one throws WAL_POISONED', () => {
    const status = running();
    status.poison = new WalError(WalErrorCode.IO, 'write failed');
    expectWalError(() => status.throwIfUnusable(), 'WAL_POISONED');
  });

  it('a closed one throws WAL_CLOSED, poisoned or not', () => {
    const status = running();
    status.poison = new WalError(WalErrorCode.IO, 'write failed');
    status.state = 'closed';
    expectWalError(() => status.throwIfUnusable(), 'WAL_CLOSED');
  });
});
