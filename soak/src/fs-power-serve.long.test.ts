import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { crashFsSkip } from './crashfs/crash-fs.js';
import { runFsPowerServe } from './fs-power-serve.js';

const skip = crashFsSkip();
const workDir = tempDir('walnut-fs-serve-');
afterAll(removeTempDirs);
const cycles = Number(process.env.WALNUT_SERVE_POWER_CUTS ?? 10);
const seed = Number(process.env.WALNUT_SERVE_POWER_SEED ?? 20261127);

// The server is `walnut serve` from packages/cli/dist, which `pnpm test` builds first.
describe.skipIf(skip)(
  `walnut serve under power cuts at the file-system boundary${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it(`loses no acknowledged POST, keeps none twice and always starts again, over ${cycles} cuts`, async () => {
      const tally = await runFsPowerServe({ cycles, seed, workDir });
      console.log(`fs power losses under walnut serve: ${JSON.stringify(tally)}`);
      expect(tally.violations).toEqual([]);
      expect(tally.lost).toBe(0);
      expect(tally.duplicates).toBe(0);
      expect(tally.cycles).toBe(cycles);
      expect(tally.acknowledged).toBeGreaterThan(0);
      // Some cuts struck with POSTs in flight (which cycles draw one follows from the seed).
      expect(tally.byKind['while serving'] ?? 0).toBeGreaterThan(0);
    }, 900_000);
  },
);
