import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { FAULT_KINDS, type FaultKind } from '@walnut/replicate/testing';

export interface SoakArgs {
  cycles: number;
  powerLosses: number;
  damaged: number;
  fsPowerLosses: number;
  replication: number;
  /** The nemesis's fault kinds to draw from; undefined: every kind this machine can run. */
  replicationKinds: FaultKind[] | undefined;
  cutReaders: number;
  seed: number;
  cyclesPerLog: number;
  maxKillMs: number;
  dir: string;
  help: boolean;
}

export const USAGE = `pnpm soak [options]

  --cycles N          SIGKILL cycles of concurrent durable writers (default 100)
  --power-losses N    simulated power-loss cases through the faulty StorageIo (default 200)
  --damaged N         damaged logs for the recovery fuzz (default 1000)
  --fs-power-losses N power cuts at the file-system boundary through crashfs (FUSE; needs
                      /dev/fuse, fuse3 and libfuse3-dev; default 0)
  --replication N      faults of the replication nemesis against a 3-node nats-server
                      cluster on loopback (needs nats-server; default 0)
  --replication-kinds K,K
                      only these of the nemesis's faults (${FAULT_KINDS.join(', ')};
                      default: every one this machine can run)
  --cut-readers S     seconds of read-only reader processes beside a writer that cuts
                      (truncateAfter), rolls over and deletes by retention, killed now
                      and then (default 0)
  --seed N            seed of every random choice (default: drawn, and printed)
  --cycles-per-log N  SIGKILL cycles that share one log directory (default 20)
  --max-kill-ms N     longest a writer runs before its kill (default 400)
  --dir PATH          where the logs are written (default /dev/shm, else the OS temp dir)
  --help              this text

A count of 0 skips its phase. Exits 0 when no invariant broke, 1 when one did, 2 on a bad
argument.`;

const NUMERIC: Record<string, keyof SoakArgs> = {
  '--cycles': 'cycles',
  '--power-losses': 'powerLosses',
  '--damaged': 'damaged',
  '--fs-power-losses': 'fsPowerLosses',
  '--replication': 'replication',
  '--cut-readers': 'cutReaders',
  '--seed': 'seed',
  '--cycles-per-log': 'cyclesPerLog',
  '--max-kill-ms': 'maxKillMs',
};

/** Parses the command line; throws an Error whose message names the bad argument. */
export function parseArgs(argv: readonly string[], drawSeed: () => number): SoakArgs {
  const args: SoakArgs = {
    cycles: 100,
    powerLosses: 200,
    damaged: 1000,
    fsPowerLosses: 0,
    replication: 0,
    replicationKinds: undefined,
    cutReaders: 0,
    seed: Number.NaN,
    cyclesPerLog: 20,
    maxKillMs: 400,
    dir: existsSync('/dev/shm') ? '/dev/shm' : tmpdir(),
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') continue;
    if (arg === '--help' || arg === '-h') {
      args.help = true;
      continue;
    }
    const [name, inline] = arg.includes('=') ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const value = inline ?? argv[++i];
    if (name === '--dir') {
      if (value === undefined || value === '') throw new Error('--dir needs a path');
      args.dir = value;
      continue;
    }
    if (name === '--replication-kinds') {
      args.replicationKinds = faultKinds(value);
      continue;
    }
    const key = NUMERIC[name!];
    if (key === undefined) throw new Error(`unknown option ${name}`);
    const n = Number(value);
    const max = key === 'seed' ? 0xffffffff : Number.MAX_SAFE_INTEGER;
    const min = key === 'cyclesPerLog' || key === 'maxKillMs' ? 1 : 0;
    if (value === undefined || !/^\d+$/.test(value) || n < min || n > max) {
      throw new Error(`${name} needs an integer from ${min} to ${max}, got ${value ?? 'nothing'}`);
    }
    (args[key] as number) = n;
  }
  if (Number.isNaN(args.seed)) args.seed = drawSeed() >>> 0;
  return args;
}

function faultKinds(value: string | undefined): FaultKind[] {
  const kinds = (value ?? '').split(',').filter((k) => k !== '');
  const unknown = kinds.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
  if (kinds.length === 0 || unknown.length > 0) {
    throw new Error(
      `--replication-kinds needs a comma-separated list of ${FAULT_KINDS.join(', ')}, got ${value ?? 'nothing'}`,
    );
  }
  return kinds as FaultKind[];
}
