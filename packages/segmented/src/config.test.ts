import type { WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { DIR, openMemory } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

describe('config validation', () => {
  const io = new MemoryStorageIo();
  const bad: [string, Record<string, unknown>][] = [
    ['no config', undefined as unknown as Record<string, unknown>],
    ['dir missing', { io }],
    ['dir empty', { dir: '', io }],
    ['dir not a string', { dir: 42, io }],
    ['dir with NUL', { dir: '/a\0b', io }],
    ['dir an https: URL', { dir: new URL('https://example.com/log'), io }],
    ['segmentTargetSize too small', { dir: DIR, io, segmentTargetSize: 100 }],
    ['segmentTargetSize fractional', { dir: DIR, io, segmentTargetSize: 5000.5 }],
    ['segmentTargetSize a string', { dir: DIR, io, segmentTargetSize: '64MiB' }],
    ['segmentTargetSize huge', { dir: DIR, io, segmentTargetSize: 2 ** 41 }],
    ['writeBufferSize too small', { dir: DIR, io, writeBufferSize: 10 }],
    ['writeBufferSize NaN', { dir: DIR, io, writeBufferSize: Number.NaN }],
    ['maxRecordSize 0', { dir: DIR, io, maxRecordSize: 0 }],
    ['maxRecordSize over the format limit', { dir: DIR, io, maxRecordSize: 2 ** 30 }],
    ['preallocate not boolean', { dir: DIR, io, preallocate: 'yes' }],
    ['readOnly not boolean', { dir: DIR, io, readOnly: 1 }],
    ['recovery unknown', { dir: DIR, io, recovery: 'best-effort' }],
    ['encryption not a KeyRing', { dir: DIR, io, encryption: { currentKeyId: 1 } }],
    ['io not a StorageIo', { dir: DIR, io: { open() {} } }],
    ['io null', { dir: DIR, io: null }],
    ['unknown field (a typo)', { dir: DIR, io, segmentTargetsize: 4096 }],
  ];
  for (const [name, config] of bad) {
    it(`rejects ${name} with WAL_BAD_ARGUMENT`, async () => {
      await expectWalError(SegmentedWal.open(config as never), 'WAL_BAD_ARGUMENT');
    });
  }

  it('takes a file: URL for dir, as node:fs does, and opens the path it names', async () => {
    const memory = new MemoryStorageIo();
    // A file: URL names a drive on Windows.
    const [url, path] =
      process.platform === 'win32'
        ? ['file:///C:/logs/a%20log', 'C:\\logs\\a log']
        : ['file:///logs/a%20log', '/logs/a log'];
    const wal = await SegmentedWal.open({ dir: new URL(url), io: memory });
    await wal.append({ payload: payloadFor(1) });
    await wal.close();
    expect(await memory.readdir(path)).toContain('00000000000000000001.wal');
  });

  it('names the field a typo probably meant', async () => {
    const err = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, segmentTargetsize: 4096 } as never),
      'WAL_BAD_ARGUMENT',
    );
    expect(err.message).toContain('did you mean segmentTargetSize?');
  });
});

describe('argument validation', () => {
  it('rejects bad records without consuming an LSN', async () => {
    const wal = await openMemory(new MemoryStorageIo(), { maxRecordSize: 1000 });
    const cases: [unknown, WalErrorCode][] = [
      [null, 'WAL_BAD_ARGUMENT'],
      [{}, 'WAL_BAD_ARGUMENT'],
      [{ payload: 'text' }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), type: 70000 }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), type: -1 }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), type: 1.5 }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), meta: 'm' }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), tenantId: 1 }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), tenantId: -1n }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), vshardId: 2 ** 32 }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1), databaseId: 2n ** 64n }, 'WAL_BAD_ARGUMENT'],
      [{ payload: Buffer.alloc(1001) }, 'WAL_RECORD_TOO_LARGE'],
      [{ payload: Buffer.alloc(900), meta: Buffer.alloc(101) }, 'WAL_RECORD_TOO_LARGE'],
    ];
    for (const [input, code] of cases) {
      expectWalError(() => wal.append(input as never), code);
      expectWalError(() => wal.appendBatch([{ payload: Buffer.alloc(1) }, input as never]), code);
    }
    expectWalError(() => wal.appendBatch([]), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.appendBatch('x' as never), 'WAL_BAD_ARGUMENT');
    expectWalError(
      () => wal.appendBatch([{ payload: Buffer.alloc(600) }, { payload: Buffer.alloc(600) }]),
      'WAL_RECORD_TOO_LARGE',
    );
    expect(wal.nextLsn).toBe(1n);
    expect(wal.append({ payload: payloadFor(1n) })).toBe(1n);
    await wal.close();
  });

  it('rejects bad LSNs, limits, listeners and rings', async () => {
    const wal = await openMemory();
    await expectWalError(wal.truncateBefore(-1n), 'WAL_BAD_ARGUMENT');
    await expectWalError(wal.truncateBefore(5 as never), 'WAL_BAD_ARGUMENT');
    await expectWalError(wal.truncateBefore(2n ** 64n), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.replayFrom(1 as never), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.replayFrom(-3n), 'WAL_BAD_ARGUMENT');
    await expectWalError(wal.replayFromLimit(1n, 0), 'WAL_BAD_ARGUMENT');
    await expectWalError(wal.replayFromLimit(1n, 1.5), 'WAL_BAD_ARGUMENT');
    await expectWalError(wal.replayFromLimit(1n, '3' as never), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.onDurable('x' as never), 'WAL_BAD_ARGUMENT');
    expectWalError(() => wal.setEncryptionRing({} as never), 'WAL_BAD_ARGUMENT');
    await wal.close();
  });
});
