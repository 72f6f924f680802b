import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { crashFsSkip } from './crashfs/crash-fs.js';
import { runFsPowerStreams } from './fs-power-streams.js';
import { STREAM_STEPS } from './fs-power-streams-config.js';

const skip = crashFsSkip();
const workDir = tempDir('walnut-fs-streams-');
afterAll(removeTempDirs);

// The child runs from soak/dist, which `pnpm test` builds first.
describe.skipIf(skip)(
  `@walnut/streams under power cuts at the file-system boundary${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    it('loses no acknowledged append, writes no retried one twice, keeps deleted and expired streams gone, and always opens', async () => {
      const tally = await runFsPowerStreams({ cycles: 30, seed: 20261127, workDir });
      console.log(`fs power losses under streams: ${JSON.stringify(tally)}`);
      expect(tally.violations).toEqual([]);
      expect(tally.lost).toBe(0);
      expect(tally.duplicates).toBe(0);
      expect(tally.cycles).toBe(30);
      expect(tally.byStep).toEqual(Object.fromEntries(STREAM_STEPS.map((step) => [step, 5])));
      expect(tally.appendsAcknowledged).toBeGreaterThan(0);
      // Producers resent appends that had reached the log before a cut, and were told so.
      expect(tally.retriesAsDuplicates).toBeGreaterThan(0);
      // The cuts reach the checkpoint's files (the checkpoint step's second half is nearly all
      // theirs: a record, its row, the checkpoint, 30 times; which of the two a cut strikes
      // varies); of the cycles whose cut is drawn (each step's first run is uncut, to count
      // its operations), most strike inside the step.
      const checkpointFiles = ['streams checkpoint', 'streams index rows'];
      expect(checkpointFiles.reduce((n, kind) => n + (tally.byKind[kind] ?? 0), 0)).toBeGreaterThan(
        0,
      );
      const drawn = tally.cycles - STREAM_STEPS.length;
      expect((tally.byKind['after the step'] ?? 0) - STREAM_STEPS.length).toBeLessThan(drawn / 2);
      // The uncut compaction step copies the survivor's records forward and deletes the
      // segments of the stream it deleted.
      expect(tally.recordsCopied).toBeGreaterThan(0);
      expect(tally.segmentsReclaimed).toBeGreaterThan(0);
    }, 480_000);
  },
);
