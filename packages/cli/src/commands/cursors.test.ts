import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/helpers.js';

afterEach(removeTempDirs);

async function logWithCursors(): Promise<{ dir: string; wal: Wal }> {
  const dir = tempDir();
  const wal = await Wal.open(dir).segmentSize(4096).build();
  await wal.appendMany(Array.from({ length: 300 }, () => Buffer.alloc(100, 1)));
  await (await wal.cursor('billing')).commit(250n);
  const slow = await wal.cursor('slow');
  await slow.close();
  const third = (await wal.segments())[2]!.firstLsn;
  await wal.truncateBefore(third);
  return { dir, wal };
}

describe('walnut cursors', () => {
  it('lists each cursor with its committed LSN, and says which retention passed', async () => {
    const { dir, wal } = await logWithCursors();
    try {
      const r = await cli('cursors', dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/billing\s+250\s+251\s+ok/);
      expect(r.stdout).toMatch(/slow\s+0\s+1\s+behind: records up to \d+ were deleted/);
      const json = JSON.parse((await cli('cursors', dir, '--json')).stdout);
      expect(json.cursors).toEqual([
        { name: 'billing', lsn: '250', nextLsn: '251', behind: false, damaged: null },
        { name: 'slow', lsn: '0', nextLsn: '1', behind: true, damaged: null },
      ]);
      const inspect = await cli('inspect', dir);
      expect(inspect.stdout).toMatch(/cursors\s+billing at 250; slow at 0, behind/);
      expect(inspect.stdout).toMatch(/retention\s+none recorded/);
    } finally {
      await wal.close();
    }
  });

  it('deletes a cursor nobody holds, and refuses one a consumer holds open', async () => {
    const { dir, wal } = await logWithCursors();
    try {
      const held = await cli('cursors', dir, '--delete', 'billing');
      expect(held.code).toBe(3);
      expect(held.stderr).toContain('WAL_CURSOR_IN_USE');
      const r = await cli('cursors', dir, '--delete', 'slow');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Deleted cursor "slow"');
      expect((await wal.cursors()).map((c) => c.name)).toEqual(['billing']);
      expect((await cli('cursors', dir, '--delete', 'slow')).code).toBe(2);
      expect((await cli('cursors', dir, '--delete', '../x')).code).toBe(2);
    } finally {
      await wal.close();
    }
  });

  it('inspect shows the retention settings its writer recorded', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir)
      .retention({ maxBytes: 1 << 20, maxSegments: 9, maxAgeMs: 7 * 86_400_000 })
      .build();
    try {
      const r = await cli('inspect', dir);
      expect(r.stdout).toMatch(
        /retention\s+maxBytes 1(\.0)? MiB, maxSegments 9, maxAgeMs 604800000 ms \(7 days\), cursors hold without a cap, every 60000 ms/,
      );
      const json = JSON.parse((await cli('inspect', dir, '--json')).stdout);
      expect(json.retention).toMatchObject({
        maxBytes: 1 << 20,
        maxSegments: 9,
        maxAgeMs: 7 * 86_400_000,
        beforeDelete: false,
      });
    } finally {
      await wal.close();
    }
  });

  it('reports a damaged cursor file with exit 1, and a log without cursors plainly', async () => {
    const dir = tempDir();
    await (await Wal.open(dir).build()).close();
    expect((await cli('cursors', dir)).stdout).toContain('No durable cursors');
    await mkdir(join(dir, 'cursors'));
    await writeFile(join(dir, 'cursors', 'bad.cursor'), Buffer.alloc(12, 9));
    const r = await cli('cursors', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/bad\s+\?\s+\?\s+damaged/);
  });
});
