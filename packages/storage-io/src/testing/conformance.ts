import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IoFd, StorageIo } from '../contract/types.js';
import { completionChecks } from './conformance/completions.js';
import { durabilityChecks } from './conformance/durability.js';
import { fileChecks } from './conformance/files.js';
import { lifecycleChecks } from './conformance/lifecycle.js';
import { loadChecks } from './conformance/load.js';
import type { ConformanceOptions, ConformanceSuite } from './conformance/suite.js';
import { afterEach, beforeEach, describe } from './conformance/vitest-lazy.js';

export type { ConformanceOptions } from './conformance/suite.js';
export { expectBytes } from './conformance/suite.js';

/**
 * Registers vitest tests that check a StorageIo backend against the contract in
 * types.ts. `factory` returns a fresh instance per test; the suite closes it.
 */
export function runStorageIoConformance(
  name: string,
  factory: () => StorageIo | Promise<StorageIo>,
  options: ConformanceOptions = {},
): void {
  const title = options.skip
    ? `${name} conformance (skipped: ${options.skip})`
    : `${name} conformance`;
  const suite = options.skip ? describe.skip : describe;
  const timeout = options.timeoutMs ?? 30_000;

  suite(title, () => {
    let io: StorageIo;
    let dir: string;
    let counter = 0;

    beforeEach(async () => {
      io = await factory();
      dir = join(tmpdir(), `walnut-conformance-${process.pid}-${Date.now()}-${counter++}`);
      await io.mkdir(dir);
    });

    afterEach(async () => {
      await io.closeIo();
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (error) {
        // Windows keeps a deleted file, and so its directory, while a descriptor is open on
        // it, and cases leave theirs to the process's end: the directory goes with the temp dir.
        if (process.platform !== 'win32' || (error as { code?: unknown }).code !== 'ENOTEMPTY') {
          throw error;
        }
      }
    });

    const running: ConformanceSuite = {
      get io() {
        return io;
      },
      get dir() {
        return dir;
      },
      options,
      timeout,
      openFile: (file = 'data'): Promise<IoFd> => io.open(join(dir, file), { create: true }),
    };
    completionChecks(running);
    durabilityChecks(running);
    loadChecks(running);
    lifecycleChecks(running);
    fileChecks(running);
  });
}
