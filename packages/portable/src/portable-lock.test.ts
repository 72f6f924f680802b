import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FILE_HEADER_SIZE, FrameScanner, WalError, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import {
  expectWalError,
  RecordingStorageIo,
  removeTempDirs,
  tempDir,
} from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { PortableWalWriter } from './portable-wal-writer.js';

afterAll(removeTempDirs);
function records(path: string): string[] {
  const scanner = new FrameScanner(readFileSync(path), { start: FILE_HEADER_SIZE });
  return [...scanner.records()].map((r) => r.payload.toString());
}

describe('one writer per portable file', () => {
  it('refuses a second writer in this process until the first closes', async () => {
    const path = join(tempDir('walnut-portable-lock-'), 'events.wal');
    const first = await PortableWalWriter.open(path);
    expect(first.stats().lock).toBe('held');
    expect(existsSync(`${path}.pid`)).toBe(true);
    const refused = await expectWalError(PortableWalWriter.open(path), WalErrorCode.LOCKED);
    expect(refused.message).toMatch(/this process/);
    // It speaks of this file and what can be done about it here: there is no log directory
    // and no read-only open of a portable file.
    expect(refused.message).toContain(path);
    expect(refused.message).toMatch(/close the other PortableWalWriter of this file/);
    expect(refused.message).toMatch(/MmapWalReader/);
    expect(refused.message).not.toMatch(/directory|read-only|SegmentedWal/);
    await first.appendWithChecksum(Buffer.from('one'));
    await first.close();
    expect(existsSync(`${path}.pid`)).toBe(false);
    const second = await PortableWalWriter.open(path);
    await second.appendWithChecksum(Buffer.from('two'));
    await second.close();
    expect(records(path)).toEqual(['one', 'two']);
  });

  it('opens unlocked, and says why, where no lock can be had', async () => {
    const memory = new MemoryStorageIo();
    await memory.mkdir('/p');
    const io = new RecordingStorageIo(memory);
    const why = 'the native addon (flock) is not loaded and /proc is not visible';
    io.refuse(
      (op) => op.kind === 'lock',
      () => new WalError(WalErrorCode.LOCK_UNAVAILABLE, why),
      { once: false },
    );
    const log = await PortableWalWriter.open('/p/events.wal', { storageIo: io });
    expect(log.stats().lock).toBe(`none: ${why}`);
    await log.appendWithChecksum(Buffer.from('one'));
    await log.close();
  });

  it('keeps what the lock says of a holder that may have ended, and of a wait', async () => {
    const memory = new MemoryStorageIo();
    await memory.mkdir('/p');
    const io = new RecordingStorageIo(memory);
    const locked = new WalError(WalErrorCode.LOCKED, '/p/events.wal is locked by process 7', {
      details: {
        path: '/p/events.wal',
        holderPid: 7,
        holderIsThisProcess: false,
        holderMayHaveEnded:
          'it runs on another machine (m2); if no such process runs any more, remove /p/events.wal.pid',
        note: '; waited 1000 ms for it',
      },
    });
    io.refuse(
      (op) => op.kind === 'lock',
      () => locked,
    );
    const refused = await expectWalError(
      PortableWalWriter.open('/p/events.wal', { storageIo: io }),
      WalErrorCode.LOCKED,
    );
    expect(refused.message).toContain(
      'process 7 (it may have ended, but it runs on another machine (m2)',
    );
    expect(refused.message).toContain('waited 1000 ms');
    expect(refused.details).toMatchObject({ holderPid: 7, path: '/p/events.wal' });
  });
});
