import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { SyncFsStorageIo } from '../backends/sync-fs.js';
import type { StorageIo } from '../contract/types.js';
import { expectBytes } from '../testing/conformance.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { FaultyStorageIo } from './faulty.js';
import { PAGE } from './tearing.js';

afterEach(removeTempDirs);

const SYNCED = 1000;
const WRITES = 4;

/** A file of SYNCED synced bytes (fill 1), then WRITES unsynced page-sized writes (fills 2, 3, …). */
function writtenImage(): Buffer {
  const parts = [Buffer.alloc(SYNCED, 1)];
  for (let i = 0; i < WRITES; i++) parts.push(Buffer.alloc(PAGE, 2 + i));
  return Buffer.concat(parts);
}

/** A fresh backend whose power loss `seed` shapes: a directory to write in, the cut, a file's bytes after it. */
type Setup = (seed: number) => {
  io: StorageIo;
  dir: string;
  crash(): Promise<void>;
  image(path: string): Buffer;
};

const memory: Setup = (seed) => {
  const io = new MemoryStorageIo();
  return {
    io,
    dir: '/',
    crash: async () => io.simulatePowerLoss({ reorder: true, seed }),
    image: (path) => io.fileBytes(path)!,
  };
};

const faultyOverFiles: Setup = (seed) => {
  const io = new FaultyStorageIo(new SyncFsStorageIo(), { seed });
  return {
    io,
    dir: tempDir('walnut-reorder-'),
    crash: () => io.crash({ reorder: true }),
    image: (path) => readFileSync(path),
  };
};

async function crashAfterUnsyncedWrites(setup: Setup, seed: number): Promise<Buffer> {
  const { io, dir, crash, image } = setup(seed);
  const path = join(dir, 'f');
  const fd = await io.open(path, { create: true });
  await io.syncDirectory(dir);
  const written = writtenImage();
  await io.write(fd, written.subarray(0, SYNCED), 0);
  await io.datasync(fd);
  for (let i = 0; i < WRITES; i++) {
    const at = SYNCED + i * PAGE;
    await io.write(fd, written.subarray(at, at + PAGE), at);
  }
  await crash();
  return image(path);
}

describe.each([
  ['MemoryStorageIo.simulatePowerLoss', memory],
  ['FaultyStorageIo.crash over real files', faultyOverFiles],
])('%s({ reorder: true })', (_name, setup) => {
  it('keeps each page of unsynced writes whole or not at all, a later one without an earlier one', async () => {
    const written = writtenImage();
    let laterWithoutEarlier = 0;
    for (let seed = 1; seed <= 16; seed++) {
      const image = await crashAfterUnsyncedWrites(setup, seed);
      expect(image.length).toBeGreaterThanOrEqual(SYNCED);
      expect(image.length).toBeLessThanOrEqual(written.length);
      expectBytes(image.subarray(0, SYNCED), written.subarray(0, SYNCED));
      const kept: boolean[] = [];
      for (let at = 0; at < image.length; at += PAGE) {
        const page = image.subarray(at, Math.min(at + PAGE, image.length));
        const from = Math.max(at, SYNCED) - at;
        const survived = page.equals(written.subarray(at, at + page.length));
        if (!survived) expectBytes(page.subarray(from), Buffer.alloc(page.length - from));
        kept.push(survived);
      }
      if (kept.some((k, i) => !k && kept.slice(i + 1).some(Boolean))) laterWithoutEarlier++;
    }
    expect(laterWithoutEarlier).toBeGreaterThan(0);
  });
});
