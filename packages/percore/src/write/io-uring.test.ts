import { join } from 'node:path';
import { createStorageIo } from '@walnut/storage-io';
import { ioUringForTests, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PerCoreWalReader } from '../read/reader.js';
import { CoreWalWriter } from './core-wal-writer.js';

const uring = ioUringForTests();

describe.skipIf(uring.skip !== false)(
  uring.title('CoreWalWriter on io_uring (real completions, real links)'),
  () => {
    let dir: string;
    beforeEach(() => {
      dir = tempDir('percore-uring-');
    });
    afterEach(removeTempDirs);

    it('direct and StorageIo paths write every entry and sync what they claim', async () => {
      const io = createStorageIo({ backend: 'io_uring' });
      const path = join(dir, 'wal-0.log');
      const writer = await CoreWalWriter.create(0, path, { io, bufferSize: 8192 });
      for (let i = 0; i < 2000; i++) writer.appendPut(Buffer.from(`k${i}`), Buffer.alloc(100, i));
      await writer.sync();
      expect(writer.syncedPosition).toBe(writer.position);

      for (let i = 0; i < 200; i++)
        writer.appendPutViaStorageIo(Buffer.from(`s${i}`), Buffer.alloc(50));
      const first = writer.syncViaStorageIo();
      const atFirst = writer.position;
      writer.appendDeleteViaStorageIo(Buffer.from('last'));
      expect(writer.syncViaStorageIo()).not.toBe(first);
      while (writer.isSyncPending) writer.checkCompletions(await io.waitCompletions(1));
      expect(writer.syncedPosition).toBe(writer.position);
      expect(writer.position).toBeGreaterThan(atFirst);
      await writer.close();

      const reader = await PerCoreWalReader.open(path, { io, coreId: 0 });
      const result = await reader.read();
      await reader.close();
      expect(result.entries).toHaveLength(2201);
      expect(result.stop.kind).toBe('eof');
      await io.closeIo();
    });
  },
);
