import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { crashFsSkip } from './crashfs/crash-fs.js';
import { runFsPowerLosses } from './fs-power-losses.js';

const skip = crashFsSkip();
const workDir = tempDir('walnut-fs-power-');
afterAll(removeTempDirs);

// The CI-sized run of `pnpm soak --fs-power-losses N` (the child steps run from soak/dist,
// which `pnpm test` builds first).
describe.skipIf(skip)(
  `power losses at the file-system boundary${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it('lose no acknowledged record, never lock the log, on io_uring and sync-fs', async () => {
      const tally = await runFsPowerLosses({
        cycles: 48,
        seed: 20261125,
        workDir,
        progress: () => undefined,
      });
      expect(tally.violations).toEqual([]);
      expect(tally.lost).toBe(0);
      expect(tally.lockouts).toBe(0);
      expect(tally.acknowledged).toBeGreaterThan(0);
      expect(Object.keys(tally.byStep).sort()).toEqual(
        ['append', 'cursor', 'percore', 'replication', 'salvage', 'truncate'].sort(),
      );
      expect(tally.byBackend).toEqual({ io_uring: 24, 'sync-fs': 24 });
      expect(tally.reordered).toBeGreaterThan(0);
      // Most cuts strike inside a step, not after it.
      expect(tally.byKind['after the step'] ?? 0).toBeLessThan(tally.cycles / 2);
    }, 240_000);
  },
);
