import { MemoryStorageIo } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { OPTION_NAMES } from './options.js';
import { Wal } from './wal.js';

const badArgument = (text: string) =>
  expect.objectContaining({ code: 'WAL_BAD_ARGUMENT', message: expect.stringContaining(text) });

describe('Wal options are checked when they are set, under the names the user wrote', () => {
  it('refuses an unknown option and names the one probably meant', () => {
    expect(() => Wal.open('/tmp/x').options({ durabilty: 'none' } as never)).toThrow(
      badArgument('"durabilty" is not an option of Wal.open() — did you mean durability?'),
    );
    expect(() => Wal.open('/tmp/x').options({ flavour: 1 } as never)).toThrow(
      badArgument('"flavour" is not an option'),
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
    expect(() => Wal.open('/tmp/x').options(options as never)).toThrow(badArgument(message));
  });

  it("checks each setter at the call, with its own name (not a lower layer's)", () => {
    expect(() => Wal.open('/tmp/x').segmentSize(100)).toThrow(badArgument('segmentSize must be'));
    expect(() => Wal.open('/tmp/x').writeBufferSize(10)).toThrow(
      badArgument('writeBufferSize must be'),
    );
    expect(() => Wal.open('/tmp/x').maxRecordSize(2 ** 40)).toThrow(
      badArgument('maxRecordSize must be'),
    );
    expect(() => Wal.open('/tmp/x').preallocate('no' as never)).toThrow(
      badArgument('preallocate must be'),
    );
  });

  it('has a check for every option, and every check rejects a value of no type it accepts', () => {
    for (const name of OPTION_NAMES) {
      expect(() => Wal.open('/tmp/x').options({ [name]: Symbol('wrong') })).toThrow(
        badArgument(name),
      );
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
    await expect(Wal.open('/log').storageIo(io, { entries: 64 }).build()).rejects.toMatchObject({
      code: 'WAL_BAD_ARGUMENT',
      message: expect.stringContaining('ioUring'),
    });
  });
});
