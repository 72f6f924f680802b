import { Errno, WalError, WalErrorCode } from '@walnut/codec';
import { describe, expect, it } from 'vitest';
import { captureOutput } from '../test/helpers.js';
import { reportError } from './errors.js';

describe('reportError', () => {
  it('gives the file-system hint for WAL_IO of a system call on a file', () => {
    const captured = captureOutput();
    reportError(
      captured.output,
      new WalError(WalErrorCode.IO, 'read failed', {
        details: { syscall: 'read', errno: Errno.EIO },
      }),
    );
    expect(captured.stderr).toMatch(/check the path, permissions and disk/);
  });

  it('gives no file-system hint for a WAL_IO of the network (a NATS connection)', () => {
    const captured = captureOutput();
    reportError(
      captured.output,
      new WalError(
        WalErrorCode.IO,
        'cannot connect to NATS at 127.0.0.1:1 (connection refused); check that the servers run and are reachable',
      ),
    );
    expect(captured.stderr).toMatch(/WAL_IO: cannot connect to NATS/);
    expect(captured.stderr).not.toMatch(/permissions and disk/);
  });
});
