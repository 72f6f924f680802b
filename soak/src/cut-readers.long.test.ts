import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { CUT_READER_KINDS } from './cut-reader-tally.js';
import { runCutReaders } from './cut-readers.js';

const workDir = tempDir('walnut-cut-readers-');
afterAll(removeTempDirs);

// The CI-sized run of `pnpm soak --cut-readers N` (the children run from soak/dist, which
// `pnpm test` builds first). Issue 57 items 1–3; one reader of each kind: a read-only Wal's
// tail, replaySegmentsMmap of the directory, `walnut tail -f`.
describe('readers in other processes beside a writer that cuts, rolls over and deletes', () => {
  for (const kills of [false, true]) {
    it(`get correct records or WAL_TRUNCATED naming a real cut, never damage${kills ? ', with SIGKILLs of the writer' : ''}`, async () => {
      const tally = await runCutReaders({
        durationMs: 3000,
        minCuts: 20,
        readers: CUT_READER_KINDS,
        killEveryMs: kills ? [300, 900] : null,
        workDir,
        seed: 20261127,
        progress: () => undefined,
      });
      // Every record continues the history of the one handed out before it (the CRC chain).
      // Not asserted: records handed out again unchanged, which the soak still counts a few
      // of a minute (decision 0341, "Open").
      expect(tally.violations).toEqual([]);
      expect(tally.samples).toEqual([]);
      for (const kind of CUT_READER_KINDS) {
        const errors = Object.keys(tally.byKind[kind]?.errors ?? {});
        expect({ kind, unexpected: errors.filter((code) => !EXPECTED.has(code)) }).toEqual({
          kind,
          unexpected: [],
        });
        expect(tally.byKind[kind]?.records).toBeGreaterThan(0);
      }
      // Only a read-only open that met the unfinished cut of a writer just killed is refused.
      const refused = Object.keys(tally.openErrors);
      expect(refused).toEqual(kills && refused.length > 0 ? [CRASHED_CUT] : []);
      expect(tally.truncatedAtNoCut).toBe(0);
      expect(tally.cuts).toBeGreaterThan(0);
      expect(tally.records).toBeGreaterThan(0);
      if (kills) expect(tally.kills).toBeGreaterThan(0);
    }, 60_000);
  }
});

const EXPECTED = new Set(['WAL_TRUNCATED', 'WAL_REPLAY_BELOW_FLOOR']);
const CRASHED_CUT = 'WAL_BAD_STATE (cut of a killed writer)';
