import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { expectWalError } from '../testing/index.js';
import { badArgument, invalidArgument, isWalError, WalError, WalErrorCode } from './errors.js';

describe('WalError', () => {
  it('is called WalError in the bundle the package ships, as loggers print it (decision 0005)', async () => {
    // The bundler the packages are built with (tsup's), which renames a class that names itself.
    const fromTsup = createRequire(createRequire(import.meta.url).resolve('tsup'));
    const esbuild = fromTsup('esbuild') as {
      build(options: object): Promise<{ outputFiles: { text: string }[] }>;
    };
    const bundle = await esbuild.build({
      entryPoints: [fileURLToPath(new URL('./errors.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'node',
      write: false,
    });
    const code = Buffer.from(bundle.outputFiles[0]!.text).toString('base64');
    const shipped = (await import(
      `data:text/javascript;base64,${code}`
    )) as typeof import('./errors.js');
    const error = new shipped.WalError(WalErrorCode.BAD_ARGUMENT, 'dir must be a path');
    expect([shipped.WalError.name, error.constructor.name]).toEqual(['WalError', 'WalError']);
    expect(String(error.stack).split('\n')[0]).toBe('WalError: dir must be a path');
  });

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
    expect(
      expectWalError(() => invalidArgument('pass a KeyRing'), WalErrorCode.BAD_ARGUMENT),
    ).toMatchObject({ message: 'pass a KeyRing' });
  });

  it('closed names what is closed, why in parentheses, then what to do', () => {
    expect(WalError.closed('the follower')).toMatchObject({
      code: WalErrorCode.CLOSED,
      message: 'the follower is closed',
      details: {},
    });
    expect(
      WalError.closed('the log', 'open it again', { why: 'nothing pending was acknowledged' }),
    ).toMatchObject({
      message: 'the log is closed (nothing pending was acknowledged); open it again',
    });
    expect(WalError.closed('cursor "a"', 'reopen it', { details: { cursor: 'a' } })).toMatchObject({
      message: 'cursor "a" is closed; reopen it',
      details: { cursor: 'a' },
    });
  });

  it('poisoned keeps the failure that poisoned as its cause', () => {
    const cause = new WalError(WalErrorCode.IO, 'fdatasync failed with EIO');
    const poisoned = WalError.poisoned('a sync failed earlier; reopen', cause, { offset: 4 });
    expect(poisoned).toMatchObject({
      code: WalErrorCode.POISONED,
      message: 'a sync failed earlier; reopen',
      details: { offset: 4 },
    });
    expect(poisoned.cause).toBe(cause);
  });
});
