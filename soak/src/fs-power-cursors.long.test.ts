import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { crashFsSkip } from './crashfs/crash-fs.js';
import { runFsPowerCursors } from './fs-power-cursors.js';

const skip = crashFsSkip();
const workDir = tempDir('walnut-fs-cursors-');
afterAll(removeTempDirs);

// The child runs from soak/dist, which `pnpm test` builds first.
describe.skipIf(skip)(
  `durable cursors updated in place, under power cuts at the file-system boundary${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it('hold the last acknowledged commit or a later one, never an older one or one nobody committed, old-layout files included', async () => {
      const tally = await runFsPowerCursors({ cycles: 32, seed: 20261125, workDir });
      expect(tally.violations).toEqual([]);
      expect(tally.cycles).toBe(32);
      expect(tally.acknowledged).toBeGreaterThan(0);
      // The cuts reach the cursor files, and tear their slot writes.
      expect(tally.byKind.cursor ?? 0).toBeGreaterThan(0);
      expect(tally.tornCursorWrites).toBeGreaterThan(0);
      expect(tally.reordered).toBeGreaterThan(0);
      expect(tally.legacyStarts).toBeGreaterThan(0);
    }, 240_000);
  },
);
