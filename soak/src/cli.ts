import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, USAGE } from './args.js';
import { crashFsAvailability } from './crashfs/crash-fs.js';
import { runCutReadersSoak } from './cut-readers-soak.js';
import { runDamageFuzz } from './damage-fuzz.js';
import { runFsPowerLosses } from './fs-power-losses.js';
import { runKillCycles } from './kill-cycles.js';
import { runPowerLosses } from './power-loss.js';
import { runReplicationSoak, summarizeReplication } from './replication.js';
import { summarize } from './summary.js';

let args: ReturnType<typeof parseArgs>;
try {
  args = parseArgs(process.argv.slice(2), () => Math.floor(Math.random() * 2 ** 32));
} catch (error) {
  process.stderr.write(`soak: ${(error as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (args.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const started = performance.now();
// `--dir` may name a directory still to be made, as a user expects of a place to write.
mkdirSync(args.dir, { recursive: true });
const workDir = mkdtempSync(join(args.dir, 'walnut-soak-'));
const progress = (line: string) => process.stdout.write(`  ${line}\n`);
process.stdout.write(
  `walnut soak: seed ${args.seed}, ${args.cycles} SIGKILL cycles, ${args.powerLosses} power-loss cases, ${args.damaged} damaged logs, ${args.fsPowerLosses} file-system power losses, ${args.replication} replication faults, in ${workDir}\n` +
    `  (rerun exactly with --seed ${args.seed} and the same counts)\n`,
);

const kills =
  args.cycles > 0
    ? await runKillCycles({
        cycles: args.cycles,
        cyclesPerLog: args.cyclesPerLog,
        maxKillMs: args.maxKillMs,
        workDir,
        seed: args.seed,
        progress,
      })
    : null;
const power =
  args.powerLosses > 0
    ? await runPowerLosses({ cases: args.powerLosses, seed: args.seed, progress })
    : null;
if (args.fsPowerLosses > 0 && !crashFsAvailability().available) {
  process.stderr.write(`soak: --fs-power-losses needs FUSE: ${crashFsAvailability().reason}\n`);
  process.exit(2);
}
const fsPower =
  args.fsPowerLosses > 0
    ? await runFsPowerLosses({ cycles: args.fsPowerLosses, seed: args.seed, workDir, progress })
    : null;
const fuzz =
  args.damaged > 0
    ? await runDamageFuzz({ logs: args.damaged, workDir, seed: args.seed, progress })
    : null;

const replication =
  args.replication > 0 ? summarizeReplication(await replicationUntilStopped()) : null;

const cutReaders =
  args.cutReaders > 0
    ? await runCutReadersSoak({ seconds: args.cutReaders, seed: args.seed, workDir, progress })
    : null;

const { text, violations: localViolations } = summarize({
  seed: args.seed,
  kills,
  power,
  fsPower,
  fuzz,
  elapsedMs: performance.now() - started,
});
process.stdout.write(text);
if (replication !== null) {
  process.stdout.write(replication.text);
  for (const v of replication.violations.slice(0, 50)) process.stdout.write(`  ! ${v}\n`);
}
if (cutReaders !== null) process.stdout.write(cutReaders.text);
const violations =
  localViolations + (replication?.violations.length ?? 0) + (cutReaders?.violations ?? 0);
// Logs in which an invariant broke, and the servers' stores after one of them exited on its
// own, stay on disk for a post-mortem; everything else goes.
if (violations === 0 && !replication?.serverExits)
  rmSync(workDir, { recursive: true, force: true });
else process.stdout.write(`logs kept for inspection under ${workDir}\n`);
process.exit(violations === 0 ? 0 : 1);

/**
 * The nemesis, ended early by SIGINT or SIGTERM: it stops drawing faults, runs its final
 * check, stops its servers and unmounts its stores, so an interrupted run still reports.
 */
async function replicationUntilStopped() {
  const stop = new AbortController();
  // A terminal's Ctrl-C reaches the servers and the crashfs mounts as well; this soak alone
  // gets the signal from `kill -INT <pid>`.
  progress(`replication: to end it early with its report, kill -INT ${process.pid}`);
  const onSignal = (signal: NodeJS.Signals) => {
    progress(`${signal}: ending the faults, then the final check and cleanup`);
    stop.abort(signal);
  };
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    return await runReplicationSoak({
      faults: args.replication,
      seed: args.seed,
      workDir: join(workDir, 'replication'),
      progress,
      signal: stop.signal,
      ...(args.replicationKinds ? { kinds: args.replicationKinds } : {}),
    });
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
  }
}
