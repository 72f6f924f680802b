/**
 * `pnpm bench [--quick] [--dir PATH] [--only a,b] [--workloads W1,W3] [--out DIR] [--skip-build] [--build]`
 * `pnpm bench --report results/<date>.json` rewrites the reports of a stored run;
 * `pnpm bench --help` lists the options.
 *
 * Builds the Walnut packages (turbo, cached), probes every contender, then runs each
 * (contender, workload, repetition) in its own child process, sequentially, the repetitions
 * of a workload in interleaved rounds over the contenders (schedule.ts), and writes
 * results/<date>.json, results/<date>.md and results/latest.svg (quick runs go to
 * results/quick/, which git ignores).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CONTENDERS, FLOOR_ID } from './contenders/index.js';
import { nodeFsFloor } from './contenders/node-fs-floor.js';
import { BENCH_ROOT } from './contenders/versions.js';
import type { DriverTask } from './drivers.js';
import { type DurabilityVerdict, judgeDurability, straceAvailable } from './durability.js';
import { gitRevision, machineInfo, repoRootOf } from './machine.js';
import { Progress } from './progress.js';
import { renderMarkdown } from './report/markdown.js';
import { readmeSection, updateReadme } from './report/readme.js';
import { renderSvg } from './report/svg.js';
import {
  type BenchResults,
  type ContenderInfo,
  type RunRecord,
  summarize,
  type Variant,
} from './results.js';
import { runChild } from './runner.js';
import { interleavedRounds } from './schedule.js';
import { mountSlowDisk, type SlowDisk } from './slow-disk.js';
import { type Mode, WORKLOAD_SEEDS, type WorkloadId, workloadSpecs } from './workloads.js';

const USAGE = `usage: pnpm bench [options]
  --quick              a smoke run: fewer records, one repetition, results/quick/
  --only a,b           only these contenders (${CONTENDERS.map((c) => c.id).join(', ')})
  --workloads W1,W3    only these workloads (W1 … W6)
  --dir PATH           where the runs write their logs (default: the OS temp dir)
  --out DIR            write the reports there instead of results/ (the README is left alone;
                       a run narrowed by --only or --workloads goes to results/partial/)
  --skip-build         do not build the Walnut packages first
  --build              build even in a quick run
  --slow-disk MS       put the logs on tools/crashfs mounted with --fsync-delay-ms MS (a
                       disk that flushes slowly; needs /dev/fuse and libfuse3-dev); runs
                       W2, W3 and W6 unless --workloads says otherwise
  --report FILE        rewrite the reports of a stored run (results/<date>.json)
  --help               this text`;

/** Exits with the usage text and `message` (status 2: the command line was wrong). */
function usageError(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}

function parseFlags() {
  try {
    return parseArgs({
      args: process.argv.slice(2).filter((arg) => arg !== '--'),
      options: {
        quick: { type: 'boolean', default: false },
        dir: { type: 'string' },
        only: { type: 'string' },
        workloads: { type: 'string' },
        out: { type: 'string' },
        'skip-build': { type: 'boolean', default: false },
        build: { type: 'boolean', default: false },
        report: { type: 'string' },
        'slow-disk': { type: 'string' },
        help: { type: 'boolean', default: false },
      },
    }).values;
  } catch (error) {
    usageError((error as Error).message);
  }
}

const flags = parseFlags();
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const ALL_WORKLOADS: readonly WorkloadId[] = ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'];
const unknownWorkloads = (flags.workloads?.split(',') ?? []).filter(
  (w) => !ALL_WORKLOADS.includes(w as WorkloadId),
);
if (unknownWorkloads.length > 0) usageError(`unknown workload ${unknownWorkloads.join(', ')}`);
const unknownContenders = (flags.only?.split(',') ?? []).filter(
  (id) => !CONTENDERS.some((c) => c.id === id),
);
if (unknownContenders.length > 0) usageError(`unknown contender ${unknownContenders.join(', ')}`);
const slowDiskMs = flags['slow-disk'] === undefined ? undefined : Number(flags['slow-disk']);
if (
  slowDiskMs !== undefined &&
  !(Number.isInteger(slowDiskMs) && slowDiskMs >= 0 && slowDiskMs <= 1000)
)
  usageError(`--slow-disk takes milliseconds from 0 to 1000, not ${flags['slow-disk']}`);
/** What the slow disk is for: the workloads that wait on fsync (issue #40). */
const SLOW_DISK_WORKLOADS: readonly WorkloadId[] = ['W2', 'W3', 'W6'];

const mode: Mode = flags.quick ? 'quick' : 'full';
const specs = workloadSpecs(mode);
const repoRoot = repoRootOf(BENCH_ROOT);
const childScript = join(BENCH_ROOT, 'dist', 'child.js');
/** Where the runs write: `--dir` (or the OS temp dir), or the slow disk mounted under it. */
let baseDir = resolve(flags.dir ?? os.tmpdir());
const selectedWorkloads = new Set<WorkloadId>(
  (flags.workloads?.split(',') ??
    (slowDiskMs === undefined ? ALL_WORKLOADS : SLOW_DISK_WORKLOADS)) as WorkloadId[],
);
const selectedContenders = CONTENDERS.filter(
  (c) => flags.only === undefined || flags.only.split(',').includes(c.id),
);
const timeoutMs = mode === 'quick' ? 20_000 : 6 * 60_000;
/** A contender that timed out once gets this much from then on, so one hang costs minutes, not hours. */
const AFTER_TIMEOUT_MS = 60_000;
const timedOutBefore = new Set<string>();
/**
 * A quick run is a smoke test that CI must finish in about a minute: runs that would end past
 * this point (counted from the first run) are cut short or skipped, and say so. W1–W5 take
 * about 30 s of it on the shared 2-core machine, W6 (one load-generator process and a warm-up
 * per run) about 15 s more.
 */
const QUICK_BUDGET_MS = 70_000;
/** When the runs start (after the build): the quick budget counts from here. */
let runsStart = performance.now();
function childTimeoutMs(contender: string): number {
  const limit = timedOutBefore.has(contender) ? Math.min(timeoutMs, AFTER_TIMEOUT_MS) : timeoutMs;
  if (mode !== 'quick') return limit;
  return Math.max(1000, Math.min(limit, QUICK_BUDGET_MS - (performance.now() - runsStart)));
}
const useStrace = straceAvailable();
const progress = new Progress();
const FLOOR_LABEL = nodeFsFloor.label;

const WALNUT_PACKAGES = ['codec', 'storage-io', 'segmented', 'mmap-reader', 'wal'];

function buildWalnut(): { ok: boolean; detail: string } {
  if (flags['skip-build']) return { ok: true, detail: 'skipped (--skip-build)' };
  // A quick run (CI's smoke test, after the CI build) uses what is built, unless something is
  // missing or --build asks; a full run always builds so that it measures the current sources.
  const missing = WALNUT_PACKAGES.filter(
    (name) => !existsSync(join(repoRoot, 'packages', name, 'dist', 'index.js')),
  );
  if (mode === 'quick' && !flags.build && missing.length === 0) {
    return { ok: true, detail: 'quick run: used the existing builds (--build to rebuild)' };
  }
  const started = performance.now();
  progress.status('building the Walnut packages (turbo, cached)…');
  const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
  try {
    // Through pnpm, as the project always runs it: turbo needs pnpm on its PATH.
    execFileSync(
      'npx',
      [
        '-y',
        'pnpm@10.34.9',
        'exec',
        'turbo',
        'run',
        'build',
        '--filter=@walnut/bench^...',
        '--continue',
        '--output-logs=errors-only',
      ],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return { ok: true, detail: `built in ${seconds()} s` };
  } catch (error) {
    const failure = error as { stdout?: Buffer; stderr?: Buffer };
    const output = `${failure.stdout ?? ''}${failure.stderr ?? ''}`;
    const log = join(os.tmpdir(), 'walnut-bench-build.log');
    writeFileSync(log, output);
    const failed = [...new Set([...output.matchAll(/(@walnut\/[\w-]+)#build/g)].map((m) => m[1]))];
    const names = failed.length > 0 ? failed.join(', ') : 'some packages';
    return {
      ok: false,
      detail: `build failed for ${names} after ${seconds()} s (log: ${log}); contenders use what is built`,
    };
  }
}

/** Loads every contender once (in parallel: nothing is timed) to learn versions or why not. */
async function probe(): Promise<ContenderInfo[]> {
  progress.status(`probing ${selectedContenders.length} contenders…`);
  const responses = await Promise.all(
    selectedContenders.map((plugin) =>
      runChild(plugin.id, undefined, { childScript, timeoutMs: 60_000 }),
    ),
  );
  return selectedContenders.map((plugin, i) => {
    const { response } = responses[i]!;
    const base = { id: plugin.id, label: plugin.label };
    if (response.kind === 'ok') {
      return { ...base, available: true, versions: response.versions, notes: response.notes };
    }
    const reason = response.kind === 'unavailable' ? response.reason : response.error;
    progress.line(`${plugin.label}: not available: ${reason}`);
    return { ...base, available: false, reason, versions: {}, notes: [] };
  });
}

interface Job {
  readonly title: string;
  run(): Promise<void>;
}

/** Everything this invocation writes lives under one directory, removed however it ends. */
let runDir: string | undefined;
function removeRunDir(): void {
  if (runDir !== undefined) rmSync(runDir, { recursive: true, force: true });
  runDir = undefined;
}
process.on('exit', removeRunDir);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    removeRunDir();
    process.exit(130);
  });
}

function freshDir(contender: string, workload: string): string {
  return mkdtempSync(join(runDir!, `${contender}-${workload}-`));
}

/** Writes <date>.json, <date>.md and latest.svg, and refreshes the README for official runs. */
function writeReports(results: BenchResults, outDir: string, official: boolean): void {
  mkdirSync(outDir, { recursive: true });
  const date = results.startedAt.slice(0, 10);
  const stem = join(outDir, date);
  writeFileSync(`${stem}.json`, `${JSON.stringify(results, null, 2)}\n`);
  const markdown = renderMarkdown(results);
  writeFileSync(`${stem}.md`, markdown);
  writeFileSync(join(outDir, 'latest.svg'), renderSvg(results, FLOOR_ID));
  process.stdout.write(
    `\n${markdown}\nWrote ${stem}.json, ${stem}.md and ${join(outDir, 'latest.svg')}\n`,
  );
  const readme = join(BENCH_ROOT, 'README.md');
  if (official && updateReadme(readme, readmeSection(results, `${date}.json`))) {
    process.stdout.write(`Updated the results section of ${readme}\n`);
  }
}

/** `--report FILE`: recomputes the summary of a results file and rewrites its reports. */
function rerender(file: string): void {
  const stored = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
  const results: BenchResults = {
    ...stored,
    skippedRuns: stored.skippedRuns ?? [],
    summary: summarize(stored.runs, stored.contenders, FLOOR_ID),
  };
  const outDir = dirname(resolve(file));
  writeReports(results, outDir, outDir === join(BENCH_ROOT, 'results') && results.mode === 'full');
}

/** The slow disk this run mounted (`--slow-disk`), if any. */
let slowDisk: SlowDisk | undefined;

async function main(): Promise<void> {
  if (flags.report !== undefined) {
    rerender(flags.report);
    return;
  }
  const startedAt = new Date().toISOString();
  // The code measured is the code at the start (the tree may change while the bench runs).
  const revision = gitRevision(repoRoot);
  mkdirSync(baseDir, { recursive: true });
  if (slowDiskMs !== undefined) {
    const disk = await mountSlowDisk(repoRoot, baseDir, slowDiskMs);
    slowDisk = disk;
    // After removeRunDir (registered first): the run directory lives on the mount.
    process.on('exit', () => disk.close());
    baseDir = disk.dir;
    progress.line(`slow disk: crashfs --fsync-delay-ms ${slowDiskMs} mounted on ${disk.dir}`);
  }
  const build = buildWalnut();
  if (!build.ok) progress.line(`warning: ${build.detail}`);
  const contenders = await probe();
  const available = selectedContenders.filter(
    (plugin) => contenders.find((c) => c.id === plugin.id)?.available,
  );
  runDir = mkdtempSync(join(baseDir, 'walnut-bench-'));
  const traceDir = mkdtempSync(join(runDir, 'traces-'));
  const runs: RunRecord[] = [];
  const replayDirs = new Map<string, string>();
  const root = process.getuid?.() === 0;
  if (!useStrace) progress.line('warning: strace unavailable; durability cannot be verified');
  if (!root) progress.line('note: not root, so W4 cold (drop_caches) is skipped');
  // Dropping the page cache slows everything else on the machine; a smoke test need not.
  const coldReplay = root && mode === 'full';

  /**
   * The durability verdict of each (contender, workload) whose syncs are syscalls, from one
   * untimed run under strace (decision 0702): tracing costs every fdatasync a ptrace stop,
   * which contenders syncing through io_uring would not pay, so timed runs are never traced.
   */
  const verdicts = new Map<string, DurabilityVerdict>();
  const verdictKey = (contender: string, workload: WorkloadId) => `${contender} ${workload}`;

  const execute = async (
    contender: string,
    workload: WorkloadId,
    rep: number,
    dir: string,
    variant?: Variant,
    purpose: 'timed' | 'verification' = 'timed',
  ): Promise<boolean> => {
    const spec = specs[workload];
    const task: DriverTask = {
      workload,
      dir,
      records: spec.records,
      recordSize: spec.recordSize,
      producers: spec.producers,
      seed: WORKLOAD_SEEDS[workload],
      ...(variant === 'cold' ? { cold: true } : {}),
      ...(spec.serving ? { serving: spec.serving } : {}),
    };
    const traced = purpose === 'verification';
    const outcome = await runChild(contender, task, {
      childScript,
      timeoutMs: childTimeoutMs(contender),
      ...(traced ? { traceFile: join(traceDir, `${contender}-${workload}.strace`) } : {}),
    });
    const plugin = CONTENDERS.find((c) => c.id === contender)!;
    const response = outcome.response;
    if (response.kind === 'failed' && response.error.startsWith('timed out')) {
      timedOutBefore.add(contender);
    }
    const metrics = response.kind === 'ok' ? response.metrics : undefined;
    const invisibleToStrace = plugin.syncsInvisibleToStrace === true;
    let durability: DurabilityVerdict;
    if (metrics === undefined) {
      durability = { status: 'not-required' };
    } else if (purpose === 'verification' || invisibleToStrace || !spec.durable) {
      // W6 may stop at its time bound: judge the appends it made.
      durability = judgeDurability(
        { ...spec, records: metrics.records },
        {
          ...(outcome.strace ? { strace: outcome.strace } : {}),
          selfReported: metrics.selfReportedSyncs ?? null,
          invisibleToStrace,
        },
      );
      if (purpose === 'verification') {
        verdicts.set(
          verdictKey(contender, workload),
          durability.status === 'durable'
            ? { ...durability, source: `${durability.source}, untimed run` }
            : durability,
        );
      }
    } else {
      durability = verdicts.get(verdictKey(contender, workload)) ?? {
        status: 'unverified',
        why: useStrace
          ? 'its untimed run under strace did not complete'
          : 'strace is not available',
      };
    }
    const record: RunRecord = {
      contender,
      workload,
      ...(variant ? { variant } : {}),
      ...(purpose === 'verification' ? { purpose } : {}),
      rep,
      status: metrics ? 'ok' : 'failed',
      ...(response.kind === 'failed' ? { error: response.error } : {}),
      ...(response.kind === 'unavailable' ? { error: response.reason } : {}),
      ...(metrics ? { metrics } : {}),
      durability,
      ...(outcome.strace ? { strace: outcome.strace } : {}),
      childSeconds: outcome.seconds,
    };
    runs.push(record);
    progress.runDone(record, plugin.label);
    return metrics !== undefined;
  };

  const jobs: Job[] = [];
  const w1 = specs.W1;
  const doW1 = selectedWorkloads.has('W1');
  const doW4 = selectedWorkloads.has('W4');
  const writers = (workload: WorkloadId) => available.filter((p) => p.workloads.includes(workload));
  /** One untimed run under strace per contender whose syncs are syscalls, before the timed ones. */
  const verifications = (workload: WorkloadId) => {
    if (!useStrace || !specs[workload].durable) return;
    for (const plugin of writers(workload).filter((p) => p.syncsInvisibleToStrace !== true)) {
      jobs.push({
        title: `${workload} ${plugin.label} (durability check under strace, untimed)`,
        run: async () => {
          const dir = freshDir(plugin.id, workload);
          try {
            await execute(plugin.id, workload, 0, dir, undefined, 'verification');
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      });
    }
  };
  if (doW1) verifications('W1');
  if (doW1 || doW4) {
    const w1Reps = doW1 ? w1.repetitions : 1;
    for (const { rep, contender: plugin } of interleavedRounds(w1Reps, writers('W1'))) {
      const last = rep === w1Reps;
      jobs.push({
        title: `W1 ${plugin.label} (rep ${rep})`,
        run: async () => {
          const dir = freshDir(plugin.id, 'W1');
          const ok = await execute(plugin.id, 'W1', rep, dir);
          if (last && ok && doW4) replayDirs.set(plugin.id, dir);
          else rmSync(dir, { recursive: true, force: true });
        },
      });
      if (!last || !doW4) continue;
      const readers = available.filter(
        (p) => p.workloads.includes('W4') && (p.replaySource ?? p.id) === plugin.id,
      );
      const variants: Variant[] = coldReplay ? ['warm', 'cold'] : ['warm'];
      for (const reader of readers) {
        for (let replayRep = 1; replayRep <= specs.W4.repetitions; replayRep++) {
          for (const variant of variants) {
            const repNote = specs.W4.repetitions > 1 ? ` (rep ${replayRep})` : '';
            jobs.push({
              title: `W4 ${variant} ${reader.label}${repNote}`,
              run: async () => {
                const dir = replayDirs.get(plugin.id);
                if (dir === undefined) {
                  runs.push({
                    contender: reader.id,
                    workload: 'W4',
                    variant,
                    rep: replayRep,
                    status: 'skipped',
                    error: `no W1 log from ${plugin.label} to replay`,
                    durability: { status: 'not-required' },
                    childSeconds: 0,
                  });
                  return;
                }
                await execute(reader.id, 'W4', replayRep, dir, variant);
              },
            });
          }
        }
      }
      jobs.push({
        title: `cleanup ${plugin.label}`,
        run: async () => {
          const dir = replayDirs.get(plugin.id);
          if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
          replayDirs.delete(plugin.id);
        },
      });
    }
  }
  for (const workload of ['W2', 'W3', 'W5', 'W6'] as const) {
    if (!selectedWorkloads.has(workload)) continue;
    const spec = specs[workload];
    verifications(workload);
    for (const { rep, contender: plugin } of interleavedRounds(
      spec.repetitions,
      writers(workload),
    )) {
      jobs.push({
        title: `${workload} ${plugin.label}${spec.repetitions > 1 ? ` (rep ${rep})` : ''}`,
        run: async () => {
          const dir = freshDir(plugin.id, workload);
          try {
            await execute(plugin.id, workload, rep, dir);
          } finally {
            rmSync(dir, { recursive: true, force: true });
          }
        },
      });
    }
  }

  const timed = jobs.filter((job) => !job.title.startsWith('cleanup'));
  let index = 0;
  const skippedRuns: string[] = [];
  runsStart = performance.now();
  for (const job of jobs) {
    const cleanup = job.title.startsWith('cleanup');
    const overBudget = mode === 'quick' && performance.now() - runsStart > QUICK_BUDGET_MS;
    // The floor always runs: without it no ratio means anything.
    if (!cleanup && overBudget && !job.title.includes(FLOOR_LABEL)) {
      skippedRuns.push(job.title);
      continue;
    }
    if (!cleanup) progress.start(++index, timed.length, job.title);
    await job.run();
  }
  if (skippedRuns.length > 0) {
    progress.line(
      `quick run over its ${QUICK_BUDGET_MS / 1000} s budget: ${skippedRuns.length} runs skipped`,
    );
  }
  removeRunDir();
  // crashfs, a child process, would keep this one alive: unmounted here, not only at exit.
  slowDisk?.close();
  progress.done();

  const results: BenchResults = {
    schema: 1,
    mode,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine: machineInfo(baseDir),
    revision,
    dataDir: baseDir,
    ...(slowDiskMs === undefined ? {} : { slowDisk: { fsyncDelayMs: slowDiskMs } }),
    build,
    workloads: specs,
    contenders,
    runs,
    skippedRuns,
    summary: summarize(runs, contenders, FLOOR_ID),
  };
  const floorSelected = selectedContenders.some((plugin) => plugin.id === FLOOR_ID);
  const floorOk = runs.some((run) => run.contender === FLOOR_ID && run.status === 'ok');
  // Only a whole full run replaces the committed results and the README's section: a run
  // narrowed by --only or --workloads, or one whose floor failed, goes to results/partial/.
  const whole =
    flags.only === undefined &&
    flags.workloads === undefined &&
    slowDiskMs === undefined &&
    floorOk;
  const official = mode === 'full' && flags.out === undefined && whole;
  const defaultDir = mode === 'quick' ? 'quick' : whole ? '' : 'partial';
  const outDir = resolve(flags.out ?? join(BENCH_ROOT, 'results', defaultDir));
  writeReports(results, outDir, official);
  if (floorSelected && !floorOk) {
    process.stderr.write('the node:fs floor produced no result; see above\n');
    process.exitCode = 1;
  }
}

await main();
