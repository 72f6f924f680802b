import { cpSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c, isWalError } from '@walnut/codec';
import { PerCoreWalManager } from '@walnut/percore';
import { readLocalState } from '@walnut/replicate/testing';
import { createStorageIo } from '@walnut/storage-io';
import { Wal } from '@walnut/wal';
import { CrashFs, type CrashFsSummary } from './crashfs/crash-fs.js';
import { fileKindOf } from './crashfs/file-kinds.js';
import type { Step, StepConfig } from './fs-power-child.js';
import { Rng } from './random.js';
import { damageSegment } from './salvage-template.js';
import { childScript, runStep, type StepRun } from './step-child.js';

export const FS_BACKENDS = ['io_uring', 'sync-fs'] as const;

export interface FsPowerOptions {
  cycles: number;
  seed: number;
  workDir: string;
  progress: (line: string) => void;
}

export interface FsPowerTally {
  cycles: number;
  /** Power cuts by the kind of file the refused operation was on (file-kinds.ts). */
  byKind: Record<string, number>;
  byStep: Record<string, number>;
  byBackend: Record<string, number>;
  /** Power cuts that tore the newest unsynced write instead of dropping it. */
  torn: number;
  /** Power cuts that kept pages of unsynced writes out of order (crashfs --reorder). */
  reordered: number;
  /** Acknowledgements received (records, puts, checkpoints, state writes). */
  acknowledged: number;
  /** Acknowledged records (or puts, or states) missing or changed after a reopen. */
  lost: number;
  /** Reopens refused for the lock (WAL_LOCKED / WAL_LOCK_UNAVAILABLE): a manual step. */
  lockouts: number;
  violations: string[];
}

const script = childScript('fs-power-child');

const STEPS: readonly (readonly [Step, number])[] = [
  ['append', 4],
  ['truncate', 1],
  ['cursor', 1],
  ['salvage', 1],
  ['percore', 1],
  ['replication', 1],
];
const SEGMENT_SIZE = 64 * 1024;

/** What each log must hold, from the acknowledgements of every step on it so far. */
interface Expectations {
  /** LSN → CRC32C of the acknowledged payload. */
  records: Map<number, number>;
  /** Acknowledged records below this LSN may be gone: a truncateBefore asked for it. */
  floor: number;
  walEpoch: number;
  /** The last LSN durable cursor `fs-power` was acknowledged at. */
  cursorAcked: number;
  /** percore: key → CRC32C of acknowledged puts, by the checkpoint that followed them. */
  puts: Map<number, Map<string, number>>;
  checkpointAcked: number;
  percoreEpoch: number;
  replicationAcked: number;
  /** salvage: LSN → CRC32C that an uninterrupted salvage of the damaged copy returns. */
  salvaged: Map<number, number>;
}

/**
 * The file-system power-loss phase: each cycle mounts crashfs over the logs, runs one step
 * (append with rollovers, truncateBefore, salvage of a damaged copy, a percore checkpoint,
 * a REPLICATION write) in a child process, cuts power after a random number of operations
 * (or at the end), unmounts so that only what fsyncs covered survives (with, in one cycle
 * of two, pages of unsynced writes kept out of order), then reopens with
 * default options here and checks every acknowledgement.
 */
export async function runFsPowerLosses(options: FsPowerOptions): Promise<FsPowerTally> {
  const tally: FsPowerTally = {
    cycles: 0,
    byKind: {},
    byStep: {},
    byBackend: {},
    torn: 0,
    reordered: 0,
    acknowledged: 0,
    lost: 0,
    lockouts: 0,
    violations: [],
  };
  const backing = join(options.workDir, 'fs-power');
  const mountpoint = join(options.workDir, 'fs-power-mount');
  const template = join(options.workDir, 'fs-power-salvage-template');
  rmSync(backing, { recursive: true, force: true });
  mkdirSync(backing, { recursive: true });
  mkdirSync(mountpoint, { recursive: true });
  const salvaged = await damageSegment(template, options.seed);
  const fresh = (): Expectations => ({
    records: new Map(),
    floor: 0,
    walEpoch: 0,
    cursorAcked: 0,
    puts: new Map(),
    checkpointAcked: 0,
    percoreEpoch: 0,
    replicationAcked: 0,
    salvaged,
  });
  let expect = fresh();
  for (const sub of ['wal', 'percore', 'replication']) mkdirSync(join(backing, sub));
  /** The most changing operations a step (or a step that creates its log) was seen to need. */
  const opsEstimate = new Map<string, number>();

  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const rng = Rng.forCase(options.seed, 'fs-power', cycle);
    const step = cycle < STEPS.length ? STEPS[cycle]![0] : rng.weighted(STEPS);
    const backend = FS_BACKENDS[cycle % FS_BACKENDS.length]!;
    // Now and then a log starts afresh, so that cuts also land while one is created.
    const anew = (step === 'append' || step === 'percore') && rng.chance(0.15);
    if (anew) {
      const dir = step === 'append' ? 'wal' : 'percore';
      rmSync(join(backing, dir), { recursive: true, force: true });
      mkdirSync(join(backing, dir));
      expect = { ...fresh(), ...keepOthers(expect, dir) };
    }
    const creating = anew || (step === 'percore' && expect.percoreEpoch === 0);
    const estimateKey = creating ? `${step} creating` : step;
    const estimate = opsEstimate.get(estimateKey);
    const crashAfter = estimate === undefined ? undefined : rng.int(0, estimate);
    const tearSeed = rng.chance(0.5) ? rng.u32() : undefined;
    const config = stepConfig(step, backend, expect, rng, cycle);
    if (step === 'salvage') {
      rmSync(join(backing, 'salvage'), { recursive: true, force: true });
      cpSync(template, join(backing, 'salvage'), { recursive: true });
      // As a log restored from a backup would be: so the flock target is created, and cut, too.
      rmSync(join(backing, 'salvage', 'LOCK'), { force: true });
    }
    // Drawn last, so the draws above stay what they were for a seed before it existed.
    const reorderSeed = rng.chance(0.5) ? rng.u32() : undefined;
    const where = `fs power loss ${cycle} (seed ${options.seed}, ${step}${creating ? ' creating the log' : ''} on ${backend}, crash after ${crashAfter ?? 'the end'}${tearSeed === undefined ? '' : `, tear ${tearSeed}`}${reorderSeed === undefined ? '' : `, reorder ${reorderSeed}`})`;

    const fs = await CrashFs.mount({ backing, mountpoint, crashAfter, tearSeed, reorderSeed });
    let run: StepRun;
    let summary: CrashFsSummary;
    try {
      run = await runStep(script, { ...config, dir: join(mountpoint, config.dir) });
      if (fs.crashPoint === null) {
        await fs.crash();
      }
    } finally {
      summary = await fs.unmount();
    }
    tally.cycles++;
    tally.byStep[step] = (tally.byStep[step] ?? 0) + 1;
    tally.byBackend[backend] = (tally.byBackend[backend] ?? 0) + 1;
    const kind = summary.crash === null ? 'none' : fileKindOf(summary.crash);
    tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
    if (summary.torn[1] > 0) tally.torn++;
    if (summary.pagesKept > 0) tally.reordered++;
    if (summary.crash?.operation === 'command' && run.exit === 'code 0') {
      opsEstimate.set(estimateKey, Math.max(estimate ?? 0, summary.ops));
    }
    const found: string[] = [];
    if (summary.crash?.operation === 'command' && run.exit !== 'code 0') {
      found.push(`the step failed without a power cut (${run.exit}): ${run.stderr}`);
    }
    tally.acknowledged += acknowledge(step, run.lines, expect, config);
    try {
      await check(step, join(backing, config.dir), expect, backend, tally, found);
    } catch (error) {
      const code = isWalError(error) ? error.code : 'not a WalError';
      if (code === 'WAL_LOCKED' || code === 'WAL_LOCK_UNAVAILABLE') tally.lockouts++;
      found.push(`reopening failed (${code}): ${(error as Error).message}`);
    }
    if (found.length > 0) {
      for (const f of found) tally.violations.push(`${where}, cut at ${describe(summary)}: ${f}`);
      // Kept for a post-mortem; the next cycles start that log afresh.
      renameSync(join(backing, config.dir), join(options.workDir, `broken-${cycle}-${config.dir}`));
      mkdirSync(join(backing, config.dir));
      expect = { ...fresh(), ...keepOthers(expect, config.dir) };
    }
    if ((cycle + 1) % 25 === 0 || cycle + 1 === options.cycles) {
      options.progress(
        `fs power losses: ${cycle + 1}/${options.cycles}, ${tally.acknowledged} acknowledged, ${tally.lost} lost, ${tally.lockouts} lockouts, ${tally.violations.length} violation(s)`,
      );
    }
  }
  rmSync(backing, { recursive: true, force: true });
  rmSync(template, { recursive: true, force: true });
  rmSync(mountpoint, { recursive: true, force: true });
  return tally;
}

function describe(summary: CrashFsSummary): string {
  const c = summary.crash;
  if (c === null) return 'nothing';
  const torn = summary.torn[1] > 0 ? `, torn ${summary.torn[0]}/${summary.torn[1]} bytes` : '';
  return `op ${c.op} (${c.operation} ${c.path}${torn})`;
}

/** What survives of the expectations when log `dir` starts afresh. */
function keepOthers(expect: Expectations, dir: string): Partial<Expectations> {
  if (dir === 'wal')
    return {
      puts: expect.puts,
      checkpointAcked: expect.checkpointAcked,
      percoreEpoch: expect.percoreEpoch,
      replicationAcked: expect.replicationAcked,
      walEpoch: expect.walEpoch,
    };
  if (dir === 'percore') return { ...expect, puts: new Map(), checkpointAcked: 0, percoreEpoch: 0 };
  if (dir === 'replication') return { ...expect, replicationAcked: 0 };
  return expect;
}

function stepConfig(
  step: Step,
  backend: StepConfig['backend'],
  expect: Expectations,
  rng: Rng,
  cycle: number,
): StepConfig {
  const base = { step, backend, seed: rng.u32(), segmentSize: SEGMENT_SIZE, records: 0 };
  if (step === 'append')
    return { ...base, dir: 'wal', epoch: ++expect.walEpoch, records: rng.int(0, 120) };
  if (step === 'truncate') {
    const lsns = [...expect.records.keys()];
    const top = lsns.length === 0 ? 1 : Math.max(...lsns);
    return { ...base, dir: 'wal', epoch: expect.walEpoch, floor: rng.int(1, top) };
  }
  if (step === 'cursor') return { ...base, dir: 'wal', epoch: expect.walEpoch };
  if (step === 'salvage') return { ...base, dir: 'salvage', epoch: cycle };
  if (step === 'percore')
    return { ...base, dir: 'percore', epoch: expect.percoreEpoch, records: rng.int(1, 40) };
  return { ...base, dir: 'replication', epoch: cycle + 1 };
}

/** Takes in the child's acknowledgements; returns how many there were. */
function acknowledge(
  step: Step,
  lines: readonly string[],
  expect: Expectations,
  config: StepConfig,
): number {
  let count = 0;
  const puts = new Map<string, number>();
  for (const line of lines) {
    const [what, a, b] = line.split(' ');
    if (what === 'ack') expect.records.set(Number(a), Number(b));
    else if (what === 'floor') expect.floor = Math.max(expect.floor, Number(a));
    else if (what === 'cursor') expect.cursorAcked = Number(a);
    else if (what === 'put') puts.set(a!, Number(b));
    else if (what === 'checkpoint') expect.checkpointAcked = Number(a);
    else if (what === 'epoch') expect.replicationAcked = Number(a);
    else continue;
    count++;
  }
  if (step === 'truncate') expect.floor = Math.max(expect.floor, config.floor!);
  if (step === 'percore' && lines.includes('ready')) {
    // The step opened (or created) the cores: the next percore step opens them again.
    expect.puts.set(config.epoch + 1, puts);
    expect.percoreEpoch = config.epoch + 1;
  }
  return count;
}

async function check(
  step: Step,
  dir: string,
  expect: Expectations,
  backend: StepConfig['backend'],
  tally: FsPowerTally,
  found: string[],
): Promise<void> {
  if (step === 'append' || step === 'truncate' || step === 'cursor') {
    const wal = await Wal.open(dir).storageIo(otherBackend(backend)).build();
    try {
      const seen = new Map<number, number>();
      let previous: bigint | undefined;
      await wal.replay(wal.floorLsn, (record) => {
        if (previous !== undefined && record.lsn !== previous + 1n) {
          found.push(`LSN ${record.lsn} follows LSN ${previous}`);
        }
        previous = record.lsn;
        seen.set(Number(record.lsn), crc32c(record.payload));
      });
      for (const [lsn, digest] of expect.records) {
        if (lsn < expect.floor && !seen.has(lsn)) continue;
        if (seen.get(lsn) !== digest) {
          tally.lost++;
          if (found.length < 5) found.push(`acknowledged LSN ${lsn} is missing or changed`);
        }
      }
      const cursor = (await wal.cursors()).find((c) => c.name === 'fs-power');
      if (expect.cursorAcked > Number(cursor?.lsn ?? 0)) {
        tally.lost++;
        found.push(
          `cursor fs-power is at ${cursor?.lsn ?? 'nothing'}, ${expect.cursorAcked} was acknowledged`,
        );
      }
      // What this recovery returned is what every later one must return.
      for (const [lsn, digest] of seen) expect.records.set(lsn, digest);
    } finally {
      await wal.close();
    }
    return;
  }
  if (step === 'salvage') {
    const wal = await Wal.open(dir).storageIo(otherBackend(backend)).recovery('salvage').build();
    const seen = new Map<number, number>();
    try {
      await wal.replay(wal.floorLsn, (record) => {
        seen.set(Number(record.lsn), crc32c(record.payload));
      });
    } finally {
      await wal.close();
    }
    for (const [lsn, digest] of expect.salvaged) {
      if (seen.get(lsn) !== digest) {
        tally.lost++;
        if (found.length < 5) found.push(`salvage lost intact LSN ${lsn}`);
      }
    }
    if (seen.size !== expect.salvaged.size) {
      found.push(
        `salvage returned ${seen.size} records, an uninterrupted one ${expect.salvaged.size}`,
      );
    }
    // And after the salvage, the log opens with default options.
    await (await Wal.open(dir).build()).close();
    return;
  }
  if (step === 'percore') {
    if (expect.percoreEpoch === 0) return; // never opened: nothing was acknowledged
    const io = createStorageIo({ backend: otherBackend(backend) });
    try {
      const { manager, recovery } = await PerCoreWalManager.openAndRecover({
        baseDir: dir,
        numCores: 2,
        io,
      });
      await manager.close();
      const covered = Number(recovery.manifest.checkpointId);
      if (covered < expect.checkpointAcked) {
        found.push(
          `MANIFEST holds checkpoint ${covered}, ${expect.checkpointAcked} was acknowledged`,
        );
      }
      const recovered = new Map<string, number>();
      for (const entry of recovery.entries) {
        if (entry.op === 'put') recovered.set(entry.key.toString(), crc32c(entry.value));
      }
      for (const [checkpoint, puts] of expect.puts) {
        if (checkpoint <= covered) continue; // a durable checkpoint covers them
        for (const [key, digest] of puts) {
          if (recovered.get(key) !== digest) {
            tally.lost++;
            if (found.length < 5) found.push(`acknowledged put ${key} is missing or changed`);
          }
        }
      }
    } finally {
      await io.closeIo();
    }
    return;
  }
  const state = readLocalState(dir);
  if (expect.replicationAcked > 0 && (state === null || state.epoch < expect.replicationAcked)) {
    tally.lost++;
    found.push(
      `REPLICATION holds epoch ${state?.epoch ?? 'nothing'}, ${expect.replicationAcked} was acknowledged`,
    );
  }
}

function otherBackend(backend: StepConfig['backend']): StepConfig['backend'] {
  return backend === 'io_uring' ? 'sync-fs' : 'io_uring';
}
