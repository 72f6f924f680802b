import {
  closeSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CrashFs, crashFsSkip } from './crash-fs.js';

const skip = crashFsSkip();
const root = tempDir('walnut-crashfs-');
afterAll(removeTempDirs);

let backing: string;
let mountpoint: string;
let mounted: CrashFs | undefined;
let count = 0;
function freshDirs(): void {
  backing = join(root, `backing-${count}`);
  mountpoint = join(root, `mount-${count++}`);
  mkdirSync(backing);
  mkdirSync(mountpoint);
}
beforeEach(freshDirs);
// Unmounted even when a test fails, so no mount outlives the run.
afterEach(async () => {
  await mounted?.unmount();
  mounted = undefined;
});

async function mount(
  options: { crashAfter?: number; tearSeed?: number; reorderSeed?: number } = {},
): Promise<string> {
  mounted = await CrashFs.mount({ backing, mountpoint, ...options });
  return mountpoint;
}

async function powerCut() {
  await mounted!.crash();
  const summary = await mounted!.unmount();
  mounted = undefined;
  return summary;
}

function write(path: string, text: string, options: { sync: boolean }): void {
  const fd = openSync(path, 'a');
  try {
    writeSync(fd, text);
    if (options.sync) fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function syncDir(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

describe.skipIf(skip)(
  `crashfs, a file system that loses power on command${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it('keeps what fsync covered: file contents by file fsync, names by directory fsync', async () => {
      const m = await mount();
      write(join(m, 'synced'), 'durable', { sync: true });
      syncDir(m);
      write(join(m, 'synced'), ' and lost', { sync: false });
      write(join(m, 'unnamed'), 'its data was synced, its name never', { sync: true });
      const summary = await powerCut();
      expect(readdirSync(backing)).toEqual(['synced']);
      expect(readFileSync(join(backing, 'synced'), 'utf8')).toBe('durable');
      expect(summary.changesDropped).toBe(1);
    });

    it('brings back what an unsynced unlink or rename took away', async () => {
      writeFileSync(join(backing, 'a'), 'first');
      writeFileSync(join(backing, 'b'), 'second');
      const m = await mount();
      unlinkSync(join(m, 'a'));
      renameSync(join(m, 'b'), join(m, 'c'));
      await powerCut();
      expect(readdirSync(backing).sort()).toEqual(['a', 'b']);
      expect(readFileSync(join(backing, 'b'), 'utf8')).toBe('second');
    });

    it('leaves a file empty that was linked into place without its own fsync (issue #37 item 2)', async () => {
      const m = await mount();
      write(join(m, 'owner.tmp'), 'walnut-lock 1\n', { sync: false });
      linkSync(join(m, 'owner.tmp'), join(m, 'LOCK.pid'));
      syncDir(m);
      unlinkSync(join(m, 'owner.tmp'));
      await powerCut();
      expect(readFileSync(join(backing, 'LOCK.pid'), 'utf8')).toBe('');
    });

    it('cuts power at the Nth changing operation, refuses it with EIO and names the file', async () => {
      const m = await mount({ crashAfter: 2 });
      const fd = openSync(join(m, 'f'), 'w'); // operation 0: create
      try {
        writeSync(fd, 'one'); // operation 1
        expect(() => writeSync(fd, 'two')).toThrow(/EIO/);
      } finally {
        closeSync(fd);
      }
      expect(await mounted!.crashed()).toEqual({ op: 2, operation: 'write', path: '/f' });
      const summary = await mounted!.unmount();
      mounted = undefined;
      expect(summary.ops).toBe(2);
      expect(readdirSync(backing)).toEqual([]);
    });

    it('with a tear, keeps a prefix of the newest unsynced write and drops the rest', async () => {
      const m = await mount({ tearSeed: 42 });
      const page = 4096; // whole pages, so the kernel hands each write over in one piece
      write(join(m, 'f'), 's'.repeat(page), { sync: true });
      syncDir(m);
      write(join(m, 'f'), 'x'.repeat(page), { sync: false });
      const summary = await powerCut();
      const [kept, of] = summary.torn;
      expect(of).toBe(page);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(page);
      expect(readFileSync(join(backing, 'f'), 'utf8')).toBe('s'.repeat(page) + 'x'.repeat(kept));
    });

    it('with a tear, keeps whole sectors of the file: the prefix ends on a 512-byte boundary of the file, not of the write', async () => {
      const m = await mount({ tearSeed: 42 });
      // The torn write starts 100 bytes into the file's first sector and ends in the same
      // page, so the kernel hands it over in one piece.
      const synced = 100;
      write(join(m, 'f'), 's'.repeat(synced), { sync: true });
      syncDir(m);
      write(join(m, 'f'), 'x'.repeat(3000), { sync: false });
      const summary = await powerCut();
      const [kept, of] = summary.torn;
      expect(of).toBe(3000);
      expect(kept).toBeGreaterThan(0);
      expect((synced + kept) % 512).toBe(0);
      expect(readFileSync(join(backing, 'f'), 'utf8')).toBe('s'.repeat(synced) + 'x'.repeat(kept));
    });

    it('with reorder, keeps pages of unsynced writes one by one: a later one without an earlier one', async () => {
      const page = 4096;
      const fills = ['a', 'b', 'c', 'd', 'e', 'f'];
      let laterWithoutEarlier = 0;
      for (let seed = 1; seed <= 6; seed++) {
        const m = await mount({ reorderSeed: seed });
        write(join(m, 'f'), 's'.repeat(page), { sync: true });
        syncDir(m);
        for (const fill of fills) write(join(m, 'f'), fill.repeat(page), { sync: false });
        const summary = await powerCut();
        const image = readFileSync(join(backing, 'f'), 'latin1');
        expect(image.slice(0, page)).toBe('s'.repeat(page));
        const kept = fills.map((fill, i) => {
          const got = image.slice((i + 1) * page, (i + 2) * page);
          if (got !== fill.repeat(page)) expect(got).toBe('\0'.repeat(got.length));
          return got.length > 0 && got === fill.repeat(page);
        });
        expect(summary.pagesKept).toBe(kept.filter(Boolean).length);
        if (kept.some((k, i) => !k && kept.slice(i + 1).some(Boolean))) laterWithoutEarlier++;
        freshDirs();
      }
      expect(laterWithoutEarlier).toBeGreaterThan(0);
    });

    it('keeps everything at a clean unmount', async () => {
      const m = await mount();
      write(join(m, 'f'), 'never synced', { sync: false });
      const summary = await mounted!.unmount();
      mounted = undefined;
      expect(summary.crash).toBeNull();
      expect(readFileSync(join(backing, 'f'), 'utf8')).toBe('never synced');
    });
  },
);
