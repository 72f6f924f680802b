import { join } from 'node:path';
import { Errno, WalError, WalErrorCode } from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { captureOutput } from '../test/helpers.js';
import { exitCodeFor, reportError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { checkLog } from './logdir/check.js';

afterEach(removeTempDirs);

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

describe('errors of the exported commands', () => {
  it('are WalErrors with a code, also where the terminal sees a usage error', async () => {
    const missing = join(tempDir('walnut-cli-errors-'), 'no-such-log');
    const error = await expectWalError(checkLog(missing), WalErrorCode.NOT_A_LOG);
    expect(error.message).toBe(`${missing} does not exist; pass the directory of a Walnut log`);
    expect(exitCodeFor(error)).toBe(ExitCode.USAGE);
    const captured = captureOutput();
    reportError(captured.output, error);
    expect(captured.stderr).toBe(`walnut: ${error.message}\n`);
  });
});
