import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isNotFound } from '@walnut/codec';
import { makeDirectory } from '@walnut/storage-io';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { formatCount, formatDuration, formatKeyValues, formatRate } from '../format.js';
import { printJson } from '../json.js';
import { type Output, printLine } from '../output.js';
import { recoverAndVerify, runCrash } from './crash.js';
import { describeIngest, runIngest } from './ingest.js';

export interface DemoOptions {
  /**
   * Where the demo logs go (default: `walnut-demo` under the OS temp directory, or a fresh
   * `walnut-demo-XXXXXX` beside it when that one holds something the demo did not make).
   */
  readonly dir?: string | undefined;
  readonly seconds: number;
  readonly producers: number;
  readonly recordSize: number;
  readonly json?: boolean;
  /** How long the crash writer writes before SIGKILL (default 2 s). */
  readonly crashAfterMs?: number;
}

/** A file that marks a directory as the demo's own, so a rerun may wipe it and nothing else. */
const MARKER = '.walnut-demo';

/**
 * `walnut demo [dir]`: the first thing a new user runs. Durable ingest with many
 * concurrent producers and group commit, then a real crash of a writer process, then
 * recovery and a byte-for-byte check of every acknowledged record.
 */
export async function demoCommand(options: DemoOptions, out: Output): Promise<number> {
  const dir = options.dir === undefined ? await defaultDirectory() : resolve(options.dir);
  await prepareDirectory(dir);
  const say = (text = '') => {
    if (!options.json) printLine(out.stderr, text);
  };

  say(`Walnut demo in ${dir}`);
  say();
  say(
    `1/3  Durable ingest: ${options.producers} producers, each awaiting its own durable append (${options.recordSize}-byte records)`,
  );
  const ingest = await runIngest(join(dir, 'ingest'), options, out);
  say(`     ${describeIngest(ingest)}`);
  say();
  say('2/3  Crash: a child process writes the same way, and is killed with SIGKILL mid-stream');
  const crash = await runCrash(
    join(dir, 'crash'),
    {
      producers: options.producers,
      recordSize: options.recordSize,
      crashAfterMs: options.crashAfterMs ?? 2000,
    },
    out,
  );
  say(`     killed pid ${crash.pid} after ${formatCount(crash.acknowledged)} acknowledged records`);
  say();
  say('3/3  Recovery: reopen the crashed log and check every acknowledged record, byte for byte');
  const recovery = await recoverAndVerify(join(dir, 'crash'), crash.acks, options.recordSize);
  const ok = recovery.problems.length === 0;
  const perSync = ingest.fsyncs === 0 ? 0 : ingest.records / ingest.fsyncs;

  if (options.json) {
    printJson(out.stdout, {
      ok,
      dir,
      ingest: {
        ...ingest,
        recordsPerSecond: ingest.records / ingest.seconds,
        recordsPerFsync: perSync,
      },
      crash: { pid: crash.pid, acknowledged: crash.acknowledged },
      recovery,
    });
    return ok ? ExitCode.OK : ExitCode.CORRUPTION;
  }
  say();
  printLine(
    out.stdout,
    formatKeyValues([
      [
        'throughput',
        `${formatRate(ingest.records / ingest.seconds)} records/s, ${(ingest.bytes / 2 ** 20 / ingest.seconds).toFixed(1)} MiB/s (${formatCount(ingest.records)} records, ${options.producers} producers)`,
      ],
      [
        'group commit',
        `${formatCount(ingest.fsyncs)} fsyncs, ${perSync.toFixed(1)} records per fsync`,
      ],
      [
        'commit latency',
        `p50 ${formatDuration(ingest.p50Ms)}, p99 ${formatDuration(ingest.p99Ms)} (append until durable)`,
      ],
      [
        'crash',
        `SIGKILL to writer pid ${crash.pid} after ${formatCount(crash.acknowledged)} acknowledged records`,
      ],
      [
        'recovery time',
        `${formatDuration(recovery.openMs)} to reopen (recovery), ${formatDuration(recovery.replayMs)} to replay and check ${formatCount(recovery.recovered)} records`,
      ],
      [
        'verification',
        ok
          ? `all ${formatCount(crash.acknowledged)} acknowledged records back and intact (+${formatCount(recovery.unacknowledged)} written but not yet acknowledged at the kill)`
          : `FAILED: ${recovery.problems.join('; ')}`,
      ],
      ['backend', `${ingest.backend}: ${ingest.backendReason}`],
      ['logs kept in', `${dir} (try: walnut inspect ${join(dir, 'crash')})`],
    ]),
  );
  return ok ? ExitCode.OK : ExitCode.CORRUPTION;
}

/** `<tmp>/walnut-demo`, or a fresh `<tmp>/walnut-demo-XXXXXX` when something else is there. */
async function defaultDirectory(): Promise<string> {
  const preferred = join(tmpdir(), 'walnut-demo');
  if (await isOurs(preferred)) return preferred;
  return mkdtemp(`${preferred}-`);
}

/** Missing, empty, or marked as made by the demo. */
async function isOurs(dir: string): Promise<boolean> {
  try {
    const names = await readdir(dir);
    return names.length === 0 || names.includes(MARKER);
  } catch (error) {
    if (isNotFound(error)) return true;
    throw error;
  }
}

async function prepareDirectory(dir: string): Promise<void> {
  if (!(await isOurs(dir))) {
    throw new UsageError(
      `${dir} is not empty and was not made by \`walnut demo\`; give an empty or new directory`,
    );
  }
  await rm(dir, { recursive: true, force: true });
  makeDirectory(dir);
  await writeFile(join(dir, MARKER), 'made by walnut demo; safe to delete\n');
}
