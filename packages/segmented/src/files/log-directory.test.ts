import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Errno, ioErrorFromErrno, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo, SyncFsStorageIo } from '@walnut/storage-io';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { SegmentedWal } from '../index.js';

const root = tempDir('walnut-log-directory-');
afterAll(removeTempDirs);
let dirs = 0;
/** A fresh directory holding `files` (name → content). */
function dirWith(files: Record<string, string>): string {
  const dir = join(root, `d${dirs++}`);
  mkdirSync(dir);
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

/** The WalError `promise` rejects with: of `code`, its message matching `message`. */
async function refused(promise: Promise<unknown>, code: WalErrorCode, message = /./) {
  const error = await expectWalError(promise, code);
  expect(error.message).toMatch(message);
  return error;
}

async function openAndClose(config: Parameters<typeof SegmentedWal.open>[0]): Promise<void> {
  const wal = await SegmentedWal.open(config);
  await wal.close();
}

describe('opening a directory that is not a log', () => {
  it('refuses a project folder with WAL_NOT_A_LOG naming what it holds, and writes nothing there', async () => {
    const dir = dirWith({ 'package.json': '{}', 'index.js': '', 'README.md': '' });
    const error = await refused(
      SegmentedWal.open({ dir }),
      WalErrorCode.NOT_A_LOG,
      /README\.md, index\.js, package\.json and no segment.*allowOtherFiles/,
    );
    expect(error.details).toMatchObject({ path: dir });
    expect(readdirSync(dir).sort()).toEqual(['README.md', 'index.js', 'package.json']);
  });

  it('tells a read-only opener of a directory that does not exist so, apart from an I/O failure', async () => {
    const dir = join(root, `missing-${dirs++}`);
    const error = await refused(
      SegmentedWal.open({ dir, readOnly: true }),
      WalErrorCode.NOT_FOUND,
      /does not exist.*read-only opener never creates it: open it again once its writer/,
    );
    expect(error.details).toMatchObject({ path: dir, errno: Errno.ENOENT });
  });

  it('refuses it to a read-only opener too', async () => {
    const dir = dirWith({ 'data.db': 'sqlite' });
    await refused(SegmentedWal.open({ dir, readOnly: true }), WalErrorCode.NOT_A_LOG);
  });

  it('names a per-core log for what it is', async () => {
    const dir = dirWith({ MANIFEST: '', 'wal-0.log': '' });
    await refused(SegmentedWal.open({ dir }), WalErrorCode.NOT_A_LOG, /PerCoreWalManager/);
  });

  it('creates the log among other files when asked to with allowOtherFiles', async () => {
    const dir = dirWith({ 'notes.txt': 'mine' });
    await openAndClose({ dir, allowOtherFiles: true });
    expect(readdirSync(dir)).toContain('notes.txt');
    expect(readdirSync(dir).some((name) => name.endsWith('.wal'))).toBe(true);
  });

  it('opens a log that holds other files beside its segments', async () => {
    const dir = dirWith({});
    await openAndClose({ dir });
    writeFileSync(join(dir, 'backup-notes.txt'), 'kept');
    await openAndClose({ dir });
  });

  it('opens a directory where a writer crashed before its first segment (only its lock left)', async () => {
    const dir = dirWith({ LOCK: '', 'HEAD.tmp': '', '00000000000000000001.wal.tmp': '' });
    await openAndClose({ dir });
  });

  it('says a path that is a file is not a directory', async () => {
    const file = join(dirWith({ 'log.txt': '' }), 'log.txt');
    await refused(
      SegmentedWal.open({ dir: file }),
      WalErrorCode.NOT_A_LOG,
      /is a file, not a directory/,
    );
  });

  it('refuses a system directory such as /proc/self as a directory that is not a log', async () => {
    await refused(
      SegmentedWal.open({ dir: '/proc/self', io: new SyncFsStorageIo() }),
      WalErrorCode.NOT_A_LOG,
    );
  });

  it('points a writer that may not create files in the directory to readOnly', async () => {
    const io = new MemoryStorageIo();
    await io.mkdir('/log');
    io.lock = async (path: string) => {
      throw ioErrorFromErrno(Errno.EACCES, 'open', path);
    };
    await refused(
      SegmentedWal.open({ dir: '/log', io }),
      WalErrorCode.IO,
      /cannot be written by this process.*readOnly/,
    );
  });
});
