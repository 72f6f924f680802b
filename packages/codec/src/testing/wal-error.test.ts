import { AssertionError } from 'node:assert';
import { describe, expect, it } from 'vitest';
import { WalError, WalErrorCode } from '../errors/errors.js';
import { expectWalError } from './wal-error.js';

const closed = () => new WalError(WalErrorCode.CLOSED, 'closed');

describe('expectWalError', () => {
  it('returns the WalError a function throws', () => {
    const error = closed();
    expect(
      expectWalError(() => {
        throw error;
      }, 'WAL_CLOSED'),
    ).toBe(error);
  });

  it('returns the WalError a promise rejects with', async () => {
    const error = closed();
    expect(await expectWalError(Promise.reject(error), 'WAL_CLOSED')).toBe(error);
  });

  it('wants a synchronous throw from a function: a promise it returns is not one', async () => {
    const rejected = Promise.reject(closed());
    rejected.catch(() => {});
    expect(() => expectWalError(() => rejected, 'WAL_CLOSED')).toThrow(
      'expected a WalError WAL_CLOSED, but it returned a promise (pass the promise itself to expect a rejection)',
    );
  });

  it('leaves no unhandled rejection when an async function is passed by mistake', async () => {
    const unhandled: unknown[] = [];
    const listen = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', listen);
    try {
      expect(() =>
        expectWalError(async () => {
          throw closed();
        }, 'WAL_CLOSED'),
      ).toThrow('but it returned a promise');
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', listen);
    }
    expect(unhandled).toEqual([]);
  });

  it('fails with an AssertionError naming what came instead', async () => {
    expect(() =>
      expectWalError(() => {
        throw closed();
      }, 'WAL_IO'),
    ).toThrow(AssertionError);
    expect(() =>
      expectWalError(() => {
        throw closed();
      }, 'WAL_IO'),
    ).toThrow('expected a WalError WAL_IO, but it threw a WalError WAL_CLOSED: closed');
    expect(() =>
      expectWalError(() => {
        throw Object.assign(new Error('look-alike'), { code: 'WAL_CLOSED' });
      }, 'WAL_CLOSED'),
    ).toThrow('threw Error: look-alike (not a WalError)');
    expect(() => expectWalError(() => 42, 'WAL_CLOSED')).toThrow(
      'expected a WalError WAL_CLOSED, but it returned 42',
    );
    await expect(expectWalError(Promise.resolve(7n), 'WAL_CLOSED')).rejects.toThrow(
      'expected a WalError WAL_CLOSED, but it resolved 7n',
    );
    await expect(expectWalError(Promise.reject(closed()), 'WAL_IO')).rejects.toBeInstanceOf(
      AssertionError,
    );
  });
});
