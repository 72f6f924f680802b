import { describe, expect, it } from 'vitest';
import { SyncFsStorageIo } from '../backends/sync-fs.js';

describe('a real-file operation given a bad argument', () => {
  it('fails with WAL_BAD_ARGUMENT, not WAL_IO (nothing reached the disk)', async () => {
    const io = new SyncFsStorageIo();
    const error = await io.close(undefined as unknown as number).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'WAL_BAD_ARGUMENT', details: { syscall: 'close' } });
    await io.closeIo();
  });
});
