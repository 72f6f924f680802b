import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isWalError, Wal } from '@walnut/wal';
import { soakKeyRing } from './keys.js';
import type { ChildConfig } from './kill-child.js';
import { Ledger } from './ledger.js';
import { Rng } from './random.js';

export const KILL_BACKENDS = ['io_uring', 'sync-fs'] as const;

export interface KillOptions {
  cycles: number;
  /** Cycles that share one log directory before the next starts afresh. */
  cyclesPerLog: number;
  /** Longest a writer runs after it is ready before the kill. */
  maxKillMs: number;
  workDir: string;
  seed: number;
  progress: (line: string) => void;
}

export interface KillTally {
  cycles: number;
  /** Cycles whose kill came before the writer had opened the log (during open or recovery). */
  killedWhileOpening: number;
  /** Records the parent received an acknowledgement for. */
  acknowledged: number;
  /** Acknowledged records found with the right bytes, summed over every check. */
  acknowledgedChecks: number;
  /** Records checked in the recovered logs (acknowledged or not), summed over every check. */
  recordsChecked: number;
  byBackend: Record<string, number>;
  encryptedCycles: number;
  violations: string[];
}

interface ChildRun {
  ready: boolean;
  exit: string;
  stderr: string;
}

const childScript = fileURLToPath(new URL('./kill-child.js', import.meta.url));

/** Spawns the writer and SIGKILLs it `killAfterMs` after it is ready (or after spawning, when `early`). */
function runChild(
  config: ChildConfig,
  killAfterMs: number,
  early: boolean,
  ack: (lsn: number, digest: number) => void,
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [childScript, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let ready = false;
    let rest = '';
    let stderr = '';
    const kill = () => child.kill('SIGKILL');
    // A writer that never gets ready is killed after 60 s and reported by the caller.
    let timer = setTimeout(kill, early ? killAfterMs : 60_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ready ')) {
          ready = true;
          if (!early) {
            clearTimeout(timer);
            timer = setTimeout(kill, killAfterMs);
          }
          continue;
        }
        const [lsn, , , digest] = line.split(' ').map(Number);
        ack(lsn!, digest!);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ ready, exit: signal ?? `code ${code}`, stderr: stderr.trim() });
    });
  });
}

/**
 * Phase 1: SIGKILL cycles. Each cycle starts a writer on a log directory, kills it at a
 * random moment, reopens the log here with the default recovery and checks it against the
 * ledger of everything acknowledged to this process (see Ledger). Backends alternate
 * between cycles (a log written through io_uring is recovered through sync-fs and the
 * reverse); half the logs are encrypted.
 */
export async function runKillCycles(options: KillOptions): Promise<KillTally> {
  const tally: KillTally = {
    cycles: 0,
    killedWhileOpening: 0,
    acknowledged: 0,
    acknowledgedChecks: 0,
    recordsChecked: 0,
    byBackend: {},
    encryptedCycles: 0,
    violations: [],
  };
  let ledger = new Ledger();
  let dir = '';
  let encrypted = false;
  let logBroken = false;
  const finishLog = () => {
    if (dir !== '' && !logBroken) rmSync(dir, { recursive: true, force: true });
  };
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    if (cycle % options.cyclesPerLog === 0) {
      finishLog();
      const log = cycle / options.cyclesPerLog;
      dir = join(options.workDir, `kill-${log}`);
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      ledger = new Ledger();
      encrypted = Rng.forCase(options.seed, 'kill-log', log).chance(0.5);
      logBroken = false;
    }
    const rng = Rng.forCase(options.seed, 'kill', cycle);
    const sizes = rng.pick([
      [20, 200],
      [20, 2000],
      [500, 8000],
    ] as const);
    const config: ChildConfig = {
      dir,
      epoch: cycle,
      producers: rng.int(8, 32),
      backend: rng.pick(KILL_BACKENDS),
      directIo: rng.chance(0.2),
      encrypted,
      segmentSize: rng.pick([64 * 1024, 256 * 1024, 1024 * 1024]),
      minSize: sizes[0],
      maxSize: sizes[1],
      seed: rng.u32(),
    };
    const early = rng.chance(0.15);
    const killAfterMs = early ? rng.int(0, 400) : rng.int(1, options.maxKillMs);
    const verifyBackend = rng.pick(KILL_BACKENDS);
    const where = `kill cycle ${cycle} (seed ${options.seed}, ${config.backend}${config.directIo ? ' direct' : ''}${encrypted ? ', encrypted' : ''}, ${config.producers} producers, kill ${early ? 'after spawn' : 'after ready'} +${killAfterMs} ms, log ${dir})`;
    const before = ledger.acknowledged;
    const run = await runChild(config, killAfterMs, early, (lsn, digest) =>
      ledger.ack(lsn, digest),
    );
    tally.cycles++;
    tally.acknowledged += ledger.acknowledged - before;
    tally.byBackend[config.backend] = (tally.byBackend[config.backend] ?? 0) + 1;
    if (encrypted) tally.encryptedCycles++;
    if (!run.ready) tally.killedWhileOpening++;
    const found: string[] = [];
    if (run.exit !== 'SIGKILL') {
      found.push(
        run.ready
          ? `the writer stopped by itself (${run.exit}): ${run.stderr}`
          : `the writer could not open the log (${run.exit}): ${run.stderr}`,
      );
    }
    try {
      let builder = Wal.open(dir).storageIo(verifyBackend);
      if (encrypted) builder = builder.encryption(soakKeyRing());
      const wal = await builder.build();
      const check = ledger.startCheck();
      try {
        await wal.replay(1n, (record) => check.record(record.lsn, record.payload));
      } finally {
        await wal.close();
      }
      const result = check.finish();
      tally.acknowledgedChecks += result.acknowledgedChecked;
      tally.recordsChecked += result.records;
      found.push(...result.violations);
    } catch (error) {
      const code = isWalError(error) ? error.code : 'not a WalError';
      found.push(`reopening after the kill failed (${code}): ${(error as Error).message}`);
    }
    if (found.length > 0) {
      logBroken = true;
      for (const f of found) tally.violations.push(`${where}: ${f}`);
    }
    if ((cycle + 1) % 10 === 0 || cycle + 1 === options.cycles) {
      options.progress(
        `kill cycles: ${cycle + 1}/${options.cycles}, ${tally.acknowledged} acknowledged, ${tally.violations.length} violation(s)`,
      );
    }
  }
  finishLog();
  return tally;
}
