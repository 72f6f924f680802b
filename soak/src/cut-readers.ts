import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CutReaderKind, ReaderTally } from './cut-reader-tally.js';
import type { CutWriterConfig } from './cut-writer-child.js';
import { Rng } from './random.js';

export interface CutReadersOptions {
  /** How long the writer runs, in all its lives. */
  durationMs: number;
  /** Reader processes beside it, one of each kind listed. */
  readers: readonly CutReaderKind[];
  /** SIGKILL the writer every `[min, max]` ms (then start it again); null: never. */
  killEveryMs: [number, number] | null;
  /** Runs on past `durationMs` (up to 10 times it) until the writers made this many cuts. */
  minCuts?: number;
  workDir: string;
  seed: number;
  progress: (line: string) => void;
}

export interface CutReadersTally {
  /** Writer processes started (kills + 1). */
  writerRuns: number;
  kills: number;
  /** `truncateAfter` calls the writers said they made (a kill may land inside one). */
  cuts: number;
  /** Records the writers appended (acknowledged). */
  appended: number;
  /** Tails the readers started. */
  reads: number;
  /** Records handed out to readers (each checked). */
  records: number;
  /** Records handed out again unchanged (after a WAL_TRUNCATED naming too low an LSN). */
  rereads: number;
  /** Read-only Wal tails that found a cut made since the tail before (`ChainCheck.overlaps`). */
  cutsBetweenReads: number;
  /** Reader errors by code, WAL_TRUNCATED and WAL_REPLAY_BELOW_FLOOR included. */
  errors: Record<string, number>;
  /** Reads, records handed out and errors by code of each kind of reader. */
  byKind: Partial<Record<CutReaderKind, KindTally>>;
  /** Read-only opens refused, by code. */
  openErrors: Record<string, number>;
  /** WAL_TRUNCATED whose `details.lsn` is no LSN a writer cut after. */
  truncatedAtNoCut: number;
  samples: string[];
  violations: string[];
}

export interface KindTally {
  reads: number;
  records: number;
  rereads: number;
  errors: Record<string, number>;
}

/** Adds `from`'s counts of each kind into `into`. */
export function addByKind(into: CutReadersTally['byKind'], from: CutReadersTally['byKind']): void {
  for (const [kind, t] of Object.entries(from) as [CutReaderKind, KindTally][]) {
    into[kind] ??= { reads: 0, records: 0, rereads: 0, errors: {} };
    const sum = into[kind];
    sum.reads += t.reads;
    sum.records += t.records;
    sum.rereads += t.rereads;
    for (const [code, n] of Object.entries(t.errors))
      sum.errors[code] = (sum.errors[code] ?? 0) + n;
  }
}

// From the tests (src/*.ts) the children run from soak/dist, which `pnpm test` builds first.
const built = (name: string) =>
  fileURLToPath(
    new URL(import.meta.url.endsWith('.ts') ? `../dist/${name}` : `./${name}`, import.meta.url),
  );
const writerScript = built('cut-writer-child.js');
const readerScript = built('cut-reader-child.js');

function lines(child: ChildProcess, onLine: (line: string) => void): void {
  let rest = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (text: string) => {
    const parts = (rest + text).split('\n');
    rest = parts.pop()!;
    for (const line of parts) onLine(line);
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A tally with nothing counted yet. */
export function emptyTally(): CutReadersTally {
  return {
    writerRuns: 0,
    kills: 0,
    cuts: 0,
    appended: 0,
    reads: 0,
    records: 0,
    rereads: 0,
    cutsBetweenReads: 0,
    errors: {},
    byKind: {},
    openErrors: {},
    truncatedAtNoCut: 0,
    samples: [],
    violations: [],
  };
}

/**
 * Issue 57 items 1–2: a writer process cuts (`truncateAfter`), appends, rolls over (small
 * segments) and deletes by retention, with or without SIGKILLs, while reader processes
 * follow the log read-only. A reader may be told only WAL_TRUNCATED (naming an LSN a writer
 * cut after) or WAL_REPLAY_BELOW_FLOOR; every record it is handed must continue one history.
 */
export async function runCutReaders(options: CutReadersOptions): Promise<CutReadersTally> {
  const dir = join(options.workDir, `cut-readers-${options.seed}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const rng = Rng.forCase(options.seed, 'cut-readers', 0);
  const tally = emptyTally();
  const cutLsns = new Set<string>();
  let stderr = '';

  const startWriter = async (): Promise<ChildProcess> => {
    const config: CutWriterConfig = {
      dir,
      segmentSize: 64 * 1024,
      retentionBytes: 512 * 1024,
      cutChance: 0.15,
      seed: options.seed,
      run: tally.writerRuns++,
    };
    const child = spawn(process.execPath, [writerScript, JSON.stringify(config)], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const ready = new Promise<void>((resolve) => {
      lines(child, (line) => {
        const [word, value] = line.split(' ');
        if (word === 'ready') resolve();
        else if (word === 'appended') tally.appended += Number(value);
        else if (word === 'cut') {
          tally.cuts++;
          cutLsns.add(value!);
        }
      });
      child.once('exit', () => resolve());
    });
    await ready;
    return child;
  };

  let writer = await startWriter();
  const readers = options.readers.map((kind) =>
    spawn(process.execPath, [readerScript, JSON.stringify({ dir, kind })], {
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  const reports = readers.map(
    (reader) =>
      new Promise<ReaderTally | null>((resolve) => {
        let report: ReaderTally | null = null;
        lines(reader, (line) => {
          report = JSON.parse(line) as ReaderTally;
        });
        reader.stderr!.on('data', (d) => {
          stderr += d;
        });
        reader.once('exit', () => resolve(report));
      }),
  );

  const start = performance.now();
  // On a loaded machine the processes start slowly: a short run goes on until it cut enough.
  const hardUntil = start + options.durationMs * 10;
  const until = () =>
    tally.cuts < (options.minCuts ?? 0) && performance.now() < hardUntil
      ? hardUntil
      : start + options.durationMs;
  while (performance.now() < until()) {
    if (writer.exitCode !== null) {
      tally.violations.push(`the writer exited with ${writer.exitCode}: ${stderr.slice(-2000)}`);
      break;
    }
    if (options.killEveryMs === null) {
      await sleep(Math.max(0, Math.min(200, until() - performance.now())));
      continue;
    }
    await sleep(
      Math.max(0, Math.min(rng.int(...options.killEveryMs), until() - performance.now())),
    );
    if (performance.now() >= until()) break;
    writer.kill('SIGKILL');
    await exited(writer);
    tally.kills++;
    writer = await startWriter();
    options.progress(`cut readers: ${tally.kills} kills, ${tally.cuts} cuts`);
  }
  writer.stdin!.end('stop\n');
  const writerDone = exited(writer);
  for (const reader of readers) reader.stdin!.end('stop\n');
  const guard = setTimeout(() => {
    writer.kill('SIGKILL');
    for (const reader of readers) reader.kill('SIGKILL');
  }, 30_000);
  const results = await Promise.all(reports);
  await writerDone;
  clearTimeout(guard);

  for (const [i, report] of results.entries()) {
    if (report === null) {
      tally.violations.push(`reader ${i} gave no tally: ${stderr.slice(-2000)}`);
      continue;
    }
    tally.reads += report.reads;
    tally.records += report.records;
    tally.rereads += report.rereads;
    tally.cutsBetweenReads += report.cutsBetweenReads;
    for (const [code, n] of Object.entries(report.errors)) {
      tally.errors[code] = (tally.errors[code] ?? 0) + n;
    }
    addByKind(tally.byKind, {
      [report.kind]: {
        reads: report.reads,
        records: report.records,
        rereads: report.rereads,
        errors: report.errors,
      },
    });
    for (const [code, n] of Object.entries(report.openErrors)) {
      tally.openErrors[code] = (tally.openErrors[code] ?? 0) + n;
    }
    for (const lsn of report.truncatedAt) if (!cutLsns.has(lsn)) tally.truncatedAtNoCut++;
    tally.samples.push(...report.samples.slice(0, 5));
    tally.violations.push(...report.violations.map((v) => `reader ${i} (${report.kind}): ${v}`));
  }
  return tally;
}
