import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { WalErrorCode } from '@walnut/codec';
import { SyncFsStorageIo } from '@walnut/storage-io';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { keyOf } from '../../test/entries.js';
import { CoreWalWriter } from '../write/core-wal-writer.js';
import { PerCoreWalReader } from './reader.js';

afterEach(removeTempDirs);

async function coreFile(io: SyncFsStorageIo, dir: string, keys: string[]): Promise<string> {
  const path = join(dir, 'wal-0.log');
  const writer = await CoreWalWriter.create(0, path, { io });
  for (const key of keys) writer.appendPut(Buffer.from(key), Buffer.from('v'));
  await writer.close();
  return path;
}

describe('PerCoreWalReader.open and CoreWalWriter.create', () => {
  it('take a file: URL as they take a path, as every package does', async () => {
    const io = new SyncFsStorageIo();
    const url = pathToFileURL(join(tempDir('percore-url-'), 'wal-0.log'));
    const writer = await CoreWalWriter.create(0, url, { io });
    writer.appendPut(Buffer.from('a-1'), Buffer.from('v'));
    await writer.close();
    const reader = await PerCoreWalReader.open(url, { io });
    expect(reader.path).toBe(fileURLToPath(url));
    expect((await reader.read()).entries.map(keyOf)).toEqual(['a-1']);
    await reader.close();
    await io.closeIo();
  });
});

describe('PerCoreWalReader after close', () => {
  it('await using closes the reader when the scope ends', async () => {
    const io = new SyncFsStorageIo();
    const path = await coreFile(io, tempDir('percore-reader-using-'), ['a-1']);
    let kept: PerCoreWalReader;
    {
      await using reader = await PerCoreWalReader.open(path, { io });
      kept = reader;
    }
    await expectWalError(kept.read(), WalErrorCode.CLOSED);
    await io.closeIo();
  });

  it('refuses every read with WAL_CLOSED, never reading the file that now has its descriptor', async () => {
    // One StorageIo shared by the application, as in the README: descriptors are reused.
    const io = new SyncFsStorageIo();
    const a = await coreFile(io, tempDir('percore-reader-a-'), ['a-1', 'a-2']);
    const b = await coreFile(io, tempDir('percore-reader-b-'), ['b-1']);
    const readerA = await PerCoreWalReader.open(a, { io });
    await readerA.close();
    const readerB = await PerCoreWalReader.open(b, { io });

    const error = await expectWalError(readerA.read(), WalErrorCode.CLOSED);
    expect(error.message).toContain(a);
    await readerA.close(); // idempotent: it must not close B's descriptor
    expect((await readerB.read()).entries.map(keyOf)).toEqual(['b-1']);
    await readerB.close();
    await io.closeIo();
  });
});
