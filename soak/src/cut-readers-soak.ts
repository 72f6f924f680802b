import { CUT_READER_KINDS } from './cut-reader-tally.js';
import { addByKind, emptyTally, runCutReaders } from './cut-readers.js';

export interface CutReadersSoakOptions {
  seconds: number;
  seed: number;
  workDir: string;
  progress: (line: string) => void;
}

/** What a reader may be told beside a writer that cuts, rolls over and deletes. */
const EXPECTED = new Set(['WAL_TRUNCATED', 'WAL_REPLAY_BELOW_FLOOR']);
/** The one refusal of a read-only open allowed: the unfinished cut of a writer just killed. */
const CRASHED_CUT = 'WAL_BAD_STATE (cut of a killed writer)';
/** Each log lives this long; logs alternate between a writer never killed and one killed. */
const ROUND_MS = 60_000;

/**
 * `pnpm soak --cut-readers S`: rounds of `runCutReaders` with 4 reader processes (two
 * read-only Wals, a directory replay, a `walnut tail -f`), a fresh log
 * each, alternately without and with SIGKILLs of the writer, for S seconds in all. A
 * violation: a record of a mixed history, a reader error other than WAL_TRUNCATED and
 * WAL_REPLAY_BELOW_FLOOR, a refused open other than a killed writer's unfinished cut, a
 * WAL_TRUNCATED naming no cut, a record handed out again unchanged.
 */
export async function runCutReadersSoak(
  options: CutReadersSoakOptions,
): Promise<{ text: string; violations: number }> {
  const sum = emptyTally();
  const started = performance.now();
  for (let round = 0; performance.now() - started < options.seconds * 1000; round++) {
    const left = options.seconds * 1000 - (performance.now() - started);
    const t = await runCutReaders({
      durationMs: Math.min(ROUND_MS, left),
      // Two read-only Wals (the kind users run most), a directory replay, a `walnut tail -f`.
      readers: ['wal', ...CUT_READER_KINDS],
      killEveryMs: round % 2 === 1 ? [200, 2000] : null,
      workDir: options.workDir,
      seed: options.seed + round,
      progress: () => undefined,
    });
    for (const key of ['writerRuns', 'kills', 'cuts', 'appended', 'reads', 'records'] as const) {
      sum[key] += t[key];
    }
    sum.rereads += t.rereads;
    sum.cutsBetweenReads += t.cutsBetweenReads;
    sum.truncatedAtNoCut += t.truncatedAtNoCut;
    for (const [code, n] of Object.entries(t.errors))
      sum.errors[code] = (sum.errors[code] ?? 0) + n;
    addByKind(sum.byKind, t.byKind);
    for (const [code, n] of Object.entries(t.openErrors)) {
      sum.openErrors[code] = (sum.openErrors[code] ?? 0) + n;
    }
    sum.samples.push(...t.samples);
    sum.violations.push(...t.violations.map((v) => `round ${round}: ${v}`));
    options.progress(
      `cut readers round ${round}: ${t.cuts} cuts, ${t.kills} kills, ${t.records} records read, errors ${JSON.stringify(t.errors)}`,
    );
  }
  const unexpected = Object.entries(sum.errors).filter(([code]) => !EXPECTED.has(code));
  const refused = Object.entries(sum.openErrors).filter(([code]) => code !== CRASHED_CUT);
  const violations =
    sum.violations.length +
    unexpected.reduce((n, [, count]) => n + count, 0) +
    refused.reduce((n, [, count]) => n + count, 0) +
    sum.truncatedAtNoCut +
    sum.rereads;
  const lines = [
    `cut readers: ${((performance.now() - started) / 1000).toFixed(0)} s, ${sum.writerRuns} writer runs (${sum.kills} SIGKILLs), ${sum.cuts} cuts, ${sum.appended} records appended`,
    `  readers: ${sum.reads} reads, ${sum.records} records handed out and checked, ${sum.rereads} handed out again unchanged`,
    `  reader errors by code: ${JSON.stringify(sum.errors)}`,
    `  read-only Wal tails that found a cut made since the tail before: ${sum.cutsBetweenReads}`,
    ...Object.entries(sum.byKind).map(
      ([kind, k]) =>
        `    ${kind}: ${k.reads} reads, ${k.records} records (${k.rereads} again unchanged), errors ${JSON.stringify(k.errors)}`,
    ),
    `  read-only opens refused by code: ${JSON.stringify(sum.openErrors)}`,
    `  WAL_TRUNCATED naming no cut: ${sum.truncatedAtNoCut}`,
    `  violations: ${violations}`,
    ...sum.violations.slice(0, 50).map((v) => `  ! ${v}`),
    ...sum.samples.slice(0, 20).map((s) => `  ! ${s}`),
  ];
  return { text: `${lines.join('\n')}\n`, violations };
}
