import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { currentRuntime } from '../native/runtime.js';
import { WalError, WalErrorCode } from './errors.js';
import { Errno, errnoName, ioErrorFromErrno, ioErrorFromNode, isNotFound } from './io-errors.js';

function nodeError(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  throw new Error('it did not fail');
}

describe('ioErrorFromErrno', () => {
  it('maps ENOSPC to WAL_NO_SPACE, with or without the sign', () => {
    expect(ioErrorFromErrno(-Errno.ENOSPC, 'write').code).toBe(WalErrorCode.NO_SPACE);
    expect(ioErrorFromErrno(Errno.ENOSPC, 'write').code).toBe(WalErrorCode.NO_SPACE);
  });

  // Windows has no EDQUOT (os.constants.errno lacks it).
  it.skipIf((Errno.EDQUOT as number | undefined) === undefined)(
    'maps EDQUOT to WAL_NO_SPACE',
    () => {
      expect(ioErrorFromErrno(Errno.EDQUOT, 'write').code).toBe(WalErrorCode.NO_SPACE);
    },
  );

  it('maps everything else to WAL_IO naming the call, the errno and the path, and what to do', () => {
    const error = ioErrorFromErrno(-Errno.EIO, 'fdatasync', '/wal/seg');
    expect(error).toMatchObject({
      code: WalErrorCode.IO,
      details: { errno: Errno.EIO, syscall: 'fdatasync', path: '/wal/seg' },
      message: expect.stringMatching(/^fdatasync failed with EIO on \/wal\/seg: .*dmesg/),
    });
  });

  it('says plainly that a path does not exist', () => {
    expect(ioErrorFromErrno(-Errno.ENOENT, 'readdir', '/no/log').message).toBe(
      '/no/log does not exist (readdir failed with ENOENT): check the path, or create it first',
    );
  });

  it('says a process or system out of file descriptors is at its limit, not at a bad path', () => {
    expect(ioErrorFromErrno(-Errno.EMFILE, 'open', '/wal/wal-7.log').message).toMatch(
      /^open failed with EMFILE on \/wal\/wal-7\.log: .*raise it \(ulimit -n/,
    );
    expect(ioErrorFromErrno(Errno.ENFILE, 'open').message).toContain('fs.file-max');
  });

  it('names errnos it has no advice for', () => {
    expect(errnoName(-Errno.EACCES)).toBe('EACCES');
    expect(errnoName(100_000)).toBe('errno 100000');
  });
});

describe('ioErrorFromNode', () => {
  it('maps what node:fs throws by its errno, keeping it as the cause', () => {
    const cause = nodeError(() => readFileSync('/nonexistent/walnut/FLOOR'));
    expect(ioErrorFromNode(cause, 'read', '/nonexistent/walnut/FLOOR')).toMatchObject({
      code: WalErrorCode.IO,
      message: expect.stringMatching(/^\/nonexistent\/walnut\/FLOOR does not exist/),
      details: { errno: Errno.ENOENT, syscall: 'read', path: '/nonexistent/walnut/FLOOR' },
      cause,
    });
  });

  it("maps node:fs's error on Windows by its name: its errno there is libuv's, not the table's", () => {
    // readFileSync of a missing file on Windows: errno -4058 (UV_ENOENT), os.constants.errno.ENOENT 2.
    const libuvOnWindows = { ENOENT: -4058, ENOSPC: -4055 };
    const cause = Object.assign(
      new Error("ENOENT: no such file or directory, open 'C:\\log\\HEAD'"),
      {
        errno: libuvOnWindows.ENOENT,
        code: 'ENOENT',
      },
    );
    expect(ioErrorFromNode(cause, 'open', 'C:\\log\\HEAD')).toMatchObject({
      code: WalErrorCode.IO,
      message:
        'C:\\log\\HEAD does not exist (open failed with ENOENT): check the path, or create it first',
      details: { errno: Errno.ENOENT, syscall: 'open', path: 'C:\\log\\HEAD' },
      cause,
    });
    const full = Object.assign(new Error('ENOSPC: no space left on device, write'), {
      errno: libuvOnWindows.ENOSPC,
      code: 'ENOSPC',
    });
    expect(ioErrorFromNode(full, 'write').code).toBe(WalErrorCode.NO_SPACE);
  });

  it('makes a bad argument node:fs refused before any call WAL_BAD_ARGUMENT, not WAL_IO', () => {
    const cause = nodeError(() => readFileSync(42.5 as unknown as string));
    // Deno's node:fs checks no argument: it passes 42.5 on as a descriptor, which is not open.
    const refusedFirst = currentRuntime().name !== 'deno';
    expect(ioErrorFromNode(cause, 'read')).toMatchObject(
      refusedFirst
        ? { code: WalErrorCode.BAD_ARGUMENT, details: { syscall: 'read' } }
        : { code: WalErrorCode.IO, details: { errno: Errno.EBADF, syscall: 'read' } },
    );
  });

  it('maps an error that names its errno without the number, as node:fs under Deno throws', () => {
    const cause = Object.assign(new Error('Bad file descriptor (os error 9)'), { code: 'EBADF' });
    expect(ioErrorFromNode(cause, 'fsync')).toMatchObject({
      code: WalErrorCode.IO,
      message: expect.stringMatching(/^fsync failed with EBADF: the file descriptor is not open/),
      details: { errno: Errno.EBADF, syscall: 'fsync' },
      cause,
    });
  });

  it('passes a WalError through', () => {
    const err = new WalError(WalErrorCode.CORRUPT, 'bad');
    expect(ioErrorFromNode(err, 'read', 'x')).toBe(err);
  });
});

describe('isNotFound', () => {
  it('is true for a node:fs error of a path that does not exist', () => {
    expect(isNotFound(nodeError(() => readFileSync('/nonexistent/walnut/path')))).toBe(true);
  });
  it('is false for any other failure, and for values that are not errors', () => {
    expect(isNotFound(nodeError(() => readFileSync('/')))).toBe(false); // EISDIR
    for (const value of [null, undefined, 'ENOENT', new Error('ENOENT'), { code: -2 }]) {
      expect(isNotFound(value)).toBe(false);
    }
  });
});
