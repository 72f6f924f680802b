import * as fs from 'node:fs/promises';
import { basename } from 'node:path';
import { Errno } from '@walnut/codec';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { writeLog } from '../../test/helpers.js';
import { listSegmentFiles } from './directory.js';
import { firstEncryptedSegment } from './encrypted.js';

// A writer's retention beside a read-only command deletes its oldest segments while the
// command lists and reads them: what is gone is not in the log any more, not an error.

/** The files `stat` is told are gone, as if deleted between the listing and the stat. */
const deleted = new Set<string>();
vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof fs>();
  const stat: typeof real.stat = (async (path: string, options?: object) => {
    if (deleted.has(basename(String(path))))
      throw Object.assign(new Error(`ENOENT: no such file or directory, stat '${path}'`), {
        code: 'ENOENT',
        errno: -Errno.ENOENT,
        syscall: 'stat',
      });
    return real.stat(path, options as never);
  }) as typeof real.stat;
  return { ...real, stat };
});

afterEach(async () => {
  deleted.clear();
  await removeTempDirs();
});

async function threeSegments(): Promise<string> {
  const dir = tempDir();
  await writeLog(dir, [
    { firstLsn: 1n, payloads: ['a'] },
    { firstLsn: 2n, payloads: ['b'] },
    { firstLsn: 3n, payloads: ['c'] },
  ]);
  return dir;
}

describe('a segment deleted while a command reads the directory', () => {
  it('is left out of the listing when it vanishes before its stat', async () => {
    const dir = await threeSegments();
    deleted.add('00000000000000000001.wal');
    expect((await listSegmentFiles(dir)).map((s) => s.firstLsn)).toEqual([2n, 3n]);
  });

  it('is no segment to look for a cipher in when it vanishes before its header is read', async () => {
    const dir = await threeSegments();
    const files = await listSegmentFiles(dir);
    await fs.unlink(files[0]!.path);
    expect(await firstEncryptedSegment(files)).toBeNull();
  });
});
