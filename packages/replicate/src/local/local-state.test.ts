import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WalErrorCode } from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Follower } from '../follower/follower.js';
import { rejoin } from '../follower/rejoin.js';
import { ReplicatedWal } from '../primary/replicated-wal.js';
import { newLocalState, readStateFor, writeLocalState } from './local-state.js';

const root = tempDir('walnut-local-state-');
afterAll(removeTempDirs);

describe("a directory's replication state", () => {
  it('is written atomically and read back; none yet is null', () => {
    const dir = tempDir('walnut-local-state-');
    expect(readStateFor(dir, 'orders')).toBeNull();
    const state = newLocalState('orders', 'primary');
    writeLocalState(dir, state);
    expect(readStateFor(dir, 'orders')).toEqual(state);
  });

  it.each([undefined, '', 42, {}, new URL('https://example.com/log')])(
    'is never read for %j as the directory: every open refuses it first, with WAL_BAD_ARGUMENT',
    async (dir) => {
      // A port nothing listens on: the refusal comes before any connection.
      const options = { servers: 'nats://127.0.0.1:9', stream: 'orders' };
      await expectWalError(ReplicatedWal.open(dir as never, options), WalErrorCode.BAD_ARGUMENT);
      await expectWalError(Follower.open(dir as never, options), WalErrorCode.BAD_ARGUMENT);
      await expectWalError(rejoin(dir as never, options), WalErrorCode.BAD_ARGUMENT);
    },
  );

  it('reports a path that is a file, and a write that fails, as WalErrors', () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'not a directory');
    expectWalError(() => readStateFor(file, 'orders'), WalErrorCode.IO);
    const missing = join(root, 'missing', 'dir');
    expectWalError(
      () => writeLocalState(missing, newLocalState('orders', 'follower')),
      WalErrorCode.IO,
    );
  });
});
