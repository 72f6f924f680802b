import { WalError, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor, RecordingStorageIo } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openMemory } from '../test/helpers.js';

describe('a sync whose submission throws', () => {
  it('fails the sync and poisons the log, and close() still settles (it waited forever)', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    wal.append({ payload: payloadFor(2n) });
    // The round's sync (an fdatasync, or here a dsync write) throws when submitted, as a
    // backend closed under the log would.
    io.refuse(
      (op) => op.kind === 'fdatasync' || op.dsync,
      () => new WalError(WalErrorCode.CLOSED, 'the backend is closed'),
    );
    await expect(wal.sync()).rejects.toBeInstanceOf(WalError);
    await expect(
      Promise.race([
        wal.close().then(
          () => 'settled',
          () => 'settled',
        ),
        new Promise((resolve) => setTimeout(() => resolve('hung'), 5_000)),
      ]),
    ).resolves.toBe('settled');
  });
});
