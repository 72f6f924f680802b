import { describe, expect, it } from 'vitest';
import { SyncFsStorageIo } from '../backends/sync-fs.js';
import { ioErrorFromErrno } from './errors.js';

describe('ioErrorFromErrno', () => {
  it('maps ENOSPC and EDQUOT to WAL_NO_SPACE', () => {
    expect(ioErrorFromErrno(-28, 'write').code).toBe('WAL_NO_SPACE');
    expect(ioErrorFromErrno(122, 'write').code).toBe('WAL_NO_SPACE');
  });

  it('maps everything else to WAL_IO with a positive errno, the syscall and the path', () => {
    const error = ioErrorFromErrno(-5, 'fdatasync', '/wal/seg');
    expect(error.code).toBe('WAL_IO');
    expect(error.details).toEqual({ errno: 5, syscall: 'fdatasync', path: '/wal/seg' });
    expect(error.message).toContain('EIO');
    expect(error.message).toContain('/wal/seg');
  });
});

describe('a real-file operation given a bad argument', () => {
  it('fails with WAL_BAD_ARGUMENT, not WAL_IO (nothing reached the disk)', async () => {
    const io = new SyncFsStorageIo();
    const error = await io.close(undefined as unknown as number).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WAL_BAD_ARGUMENT', details: { syscall: 'close' } });
    await io.closeIo();
  });
});
