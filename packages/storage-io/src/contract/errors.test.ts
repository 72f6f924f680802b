import { WalError, WalErrorCode } from '@walnut/codec';
import { expectWalError } from '@walnut/codec/testing';
import { describe, expect, it } from 'vitest';
import { SyncFsStorageIo } from '../backends/sync-fs.js';
import { Errno, resultFromNodeError } from './errors.js';

describe('the -errno a completion carries', () => {
  it('is the errno of a WalError raised before the call (an O_DIRECT the platform lacks)', () => {
    const refused = new WalError(WalErrorCode.IO, 'open (O_DIRECT unsupported) failed', {
      details: { errno: Errno.EINVAL, syscall: 'open (O_DIRECT unsupported)' },
    });
    expect(resultFromNodeError(refused)).toBe(-Errno.EINVAL);
  });

  it("is node:fs's errno for an error node:fs threw", () => {
    expect(resultFromNodeError(Object.assign(new Error('ENOENT'), { errno: -Errno.ENOENT }))).toBe(
      -Errno.ENOENT,
    );
  });

  it("is the errno node:fs's error names on Windows, where its number is libuv's", () => {
    // fs.fstatSync of a closed descriptor on Windows: errno -4083 (UV_EBADF), code EBADF.
    const libuvEbadfOnWindows = -4083;
    const windows = Object.assign(new Error('EBADF: bad file descriptor, fstat'), {
      errno: libuvEbadfOnWindows,
      code: 'EBADF',
    });
    expect(resultFromNodeError(windows)).toBe(-Errno.EBADF);
  });

  it('is -EIO for an error that names no errno', () => {
    expect(resultFromNodeError(new Error('no errno'))).toBe(-Errno.EIO);
  });
});

describe('a real-file operation given a bad argument', () => {
  it('fails with WAL_BAD_ARGUMENT, not WAL_IO (nothing reached the disk)', async () => {
    const io = new SyncFsStorageIo();
    const error = await expectWalError(
      io.close(undefined as unknown as number),
      'WAL_BAD_ARGUMENT',
    );
    expect(error).toMatchObject({ details: { syscall: 'close' } });
    await io.closeIo();
  });
});
