import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { OPTION_NAMES } from './options.js';
import { Wal } from './wal.js';

/** Asserts that `run` throws WAL_BAD_ARGUMENT with a message containing `text`. */
const refuses = (run: () => unknown, text: string) =>
  expect(expectWalError(run, 'WAL_BAD_ARGUMENT').message).toContain(text);

describe('Wal options are checked when they are set, under the names the user wrote', () => {
  it('refuses an unknown option and names the one probably meant', () => {
    refuses(
      () => Wal.open('/tmp/x').options({ durabilty: 'none' } as never),
      '"durabilty" is not an option of Wal.open() — did you mean durability?',
    );
    refuses(
      () => Wal.open('/tmp/x').options({ flavour: 1 } as never),
      '"flavour" is not an option',
    );
  });

  it.each([
    [{ zeroFillAhead: -1 }, 'zeroFillAhead must be an integer from 0'],
    [{ maxQueueBytes: 'lots' }, 'maxQueueBytes must be an integer from 1'],
    [{ durability: 'fast' }, "durability must be 'sync', 'flush', 'none', 'interval'"],
    [{ segmentSize: 100 }, 'segmentSize must be an integer from 4096'],
    [{ directIo: 'yes' }, 'directIo must be true or false'],
    [{ storageIo: 'uring' }, "storageIo must be a StorageIo or one of 'auto'"],
    [{ ioUring: { registeredFiles: true } }, 'ioUring.registeredFiles is not supported'],
    [{ encryption: {} }, 'encryption must be a KeyRing'],
    [{ maxGroupWaitMs: Number.NaN }, 'maxGroupWaitMs must be a number of milliseconds'],
  ])('options(%o) is refused at once', (options, message) => {
    refuses(() => Wal.open('/tmp/x').options(options as never), message);
  });

  it("checks each setter at the call, with its own name (not a lower layer's)", () => {
    refuses(() => Wal.open('/tmp/x').segmentSize(100), 'segmentSize must be');
    refuses(() => Wal.open('/tmp/x').writeBufferSize(10), 'writeBufferSize must be');
    refuses(() => Wal.open('/tmp/x').maxRecordSize(2 ** 40), 'maxRecordSize must be');
    refuses(() => Wal.open('/tmp/x').preallocate('no' as never), 'preallocate must be');
  });

  it('has a check for every option, and every check rejects a value of no type it accepts', () => {
    for (const name of OPTION_NAMES) {
      refuses(() => Wal.open('/tmp/x').options({ [name]: Symbol('wrong') }), name);
    }
  });

  it('takes undefined as "not set", as a spread of defaults gives it', async () => {
    const wal = await Wal.open('/log')
      .options({ durability: undefined, storageIo: new MemoryStorageIo() })
      .build();
    expect(wal.durability).toBe('sync');
    await wal.close();
  });

  it("refuses io_uring options beside a StorageIo of the caller's own, which they would not reach", async () => {
    const io = new MemoryStorageIo();
    expect(
      await expectWalError(
        Wal.open('/log').storageIo(io, { entries: 64 }).build(),
        'WAL_BAD_ARGUMENT',
      ),
    ).toMatchObject({ message: expect.stringContaining('ioUring') });
  });
});
