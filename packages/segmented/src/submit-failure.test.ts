import { WalError, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo, type SubmitOptions } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { openMemory, payloadFor } from '../test/helpers.js';

/** A backend whose next fdatasync submission throws, as a backend closed under the log would. */
class RefusingSyncIo extends MemoryStorageIo {
  refuseNextSync = false;

  override submitDatasync(fd: number, options?: SubmitOptions): number {
    if (this.refuseNextSync) {
      this.refuseNextSync = false;
      throw new WalError(WalErrorCode.CLOSED, 'the backend is closed');
    }
    return super.submitDatasync(fd, options);
  }
}

describe('a sync whose submission throws', () => {
  it('fails the sync and poisons the log, and close() still settles (it waited forever)', async () => {
    const io = new RefusingSyncIo();
    const wal = await openMemory(io, { segmentTargetSize: 4096 });
    wal.append({ payload: payloadFor(1n) });
    await wal.sync();
    wal.append({ payload: payloadFor(2n) });
    io.refuseNextSync = true;
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
