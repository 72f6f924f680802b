import { join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

describe('awaiting Wal.open(dir), as every other package’s open is awaited', () => {
  it('opens the log with the defaults, as build() does', async () => {
    const io = new MemoryStorageIo();
    const wal = await Wal.open('/log').storageIo(io);
    expect(wal).toBeInstanceOf(Wal);
    expect(wal.durability).toBe('sync');
    expect(await wal.append(Buffer.from('first'))).toBe(1n);
    await wal.close();
  });

  it('opens the log with what the setters chose', async () => {
    const wal = await Wal.open('/log').storageIo(new MemoryStorageIo()).durability('none');
    expect(wal.durability).toBe('none');
    await wal.close();
  });

  it('rejects with the WalError build() rejects with', async () => {
    const io = new MemoryStorageIo();
    const wal = await Wal.open('/log').storageIo(io);
    await wal.append(Buffer.from('x'));
    await wal.close();
    // A writer's option beside readOnly is refused when the log is opened.
    const opening = Wal.open('/log').storageIo(io).readOnly().durability('none');
    await expectWalError(opening, WalErrorCode.BAD_ARGUMENT);
    await expectWalError(opening.build(), WalErrorCode.BAD_ARGUMENT);
  });

  it('works with the promise helpers, which adopt its result', async () => {
    const [wal] = await Promise.all([Wal.open('/log').storageIo(new MemoryStorageIo())]);
    expect(await wal.append(Buffer.from('x'))).toBe(1n);
    await wal.close();
  });
});

describe('Wal.open(dir) with a file: URL, as node:fs takes one', () => {
  afterAll(removeTempDirs);

  it('opens the log at the path the URL names', async () => {
    const path = join(tempDir(), 'my log');
    const wal = await Wal.open(new URL(`${pathToFileURL(path).href}/`)).build();
    expect(wal.dir).toBe(`${path}${sep}`);
    await wal.append(Buffer.from('by URL'));
    await wal.close();
    const again = await Wal.open(path).readOnly().build();
    const payloads: string[] = [];
    await again.replay(1n, (record) => void payloads.push(record.payload.toString()));
    expect(payloads).toEqual(['by URL']);
    await again.close();
  });

  it('refuses a URL of another scheme with WAL_BAD_ARGUMENT at once', () => {
    const error = expectWalError(
      () => Wal.open(new URL('https://example.com/log')),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toContain('dir must be a non-empty path string or a file: URL');
  });
});
