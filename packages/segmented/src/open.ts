import { dirname, join } from 'node:path';
import { type SuffixCut, WalError, WalErrorCode } from '@walnut/codec';
import { Errno, type IoLock, lockOwner, openStorageIo, type StorageIo } from '@walnut/storage-io';
import { type ResolvedConfig, resolveConfig } from './config.js';
import { finishPendingCut } from './files/cut-after.js';
import { readFloor } from './files/floor.js';
import { checkLogDirectory, lockCreationError } from './files/log-directory.js';
import { recoveredSegments, type Segment } from './files/segment.js';
import { recoverLog } from './recovery/recovery.js';
import type { RecoveryReport } from './recovery/recovery-report.js';
import { type DirectIoStats, probeDirectIo } from './write/direct-io.js';
import { LogClock } from './write/log-clock.js';

const LOCK_FILE = 'LOCK';

/** A log directory opened and recovered: what SegmentedWal is built from. */
export interface OpenedLog {
  cfg: ResolvedConfig;
  io: StorageIo;
  /** The StorageIo was created here (no config.io): closing the log closes it. */
  ownsIo: boolean;
  lock: IoLock | null;
  report: RecoveryReport;
  segments: Segment[];
  floorLsn: bigint;
  nextLsn: bigint;
  directIo: DirectIoStats;
  /** The last suffix cut the log had when opened (a reader tells a later one by its generation). */
  cut: SuffixCut | null;
  /** The log's id and time, seeded from its newest segment and record. */
  clock: LogClock;
  /** Undoes the opening (lock, owned StorageIo) when what follows fails. */
  release(): Promise<void>;
}

/**
 * Checks the config, opens (or, unless read-only, creates) the directory, takes the lock
 * of a writer (`<dir>/LOCK`), probes direct I/O and recovers the log: README.md "Recovery
 * on open". On failure nothing is left held.
 */
export async function openLog(config: unknown): Promise<OpenedLog> {
  const cfg = resolveConfig(config);
  const ownsIo = cfg.io === undefined;
  const io = cfg.io ?? (await openStorageIo({ backend: 'auto' }));
  let lock: IoLock | null = null;
  const release = async (): Promise<void> => {
    if (lock !== null) await lock.release().catch(() => {});
    if (ownsIo) await io.closeIo().catch(() => {});
  };
  try {
    if (cfg.readOnly) {
      if ((await io.stat(cfg.dir)) === null) {
        throw new WalError(
          WalErrorCode.NOT_FOUND,
          `the log directory ${cfg.dir} does not exist; a read-only opener never creates it: open it again once its writer has created it (or check the path)`,
          { details: { errno: Errno.ENOENT, syscall: 'stat', path: cfg.dir } },
        );
      }
    } else if ((await io.stat(cfg.dir)) === null) {
      await io.mkdir(cfg.dir);
      await io.syncDirectory(dirname(cfg.dir));
    }
    await checkLogDirectory(io, cfg.dir, cfg.allowOtherFiles);
    if (!cfg.readOnly) {
      lock = await io.lock(join(cfg.dir, LOCK_FILE)).catch((error: unknown) => {
        throw lockCreationError(cfg.dir, error);
      });
    }
    const directIo: DirectIoStats =
      cfg.directIo && !cfg.readOnly
        ? await probeDirectIo(io, join(cfg.dir, LOCK_FILE))
        : {
            state: 'off',
            reason: cfg.readOnly ? 'read-only' : 'not asked for (config.directIo)',
          };
    // A cut that a crash interrupted is finished before recovery looks at the segments.
    const { cut, finished } = await finishPendingCut(io, cfg.dir, cfg.readOnly);
    const recover = () =>
      recoverLog({
        finishedCut: finished,
        io,
        dir: cfg.dir,
        mode: cfg.recovery,
        verify: cfg.verify,
        readOnly: cfg.readOnly,
        besideWriter: cfg.readOnly && writerMayBeWriting(join(cfg.dir, LOCK_FILE)),
        ring: cfg.encryption,
      });
    const recovered = cfg.readOnly
      ? await lookingAgainAfterTruncations(io, cfg.dir, recover)
      : await recover();
    const newest = recovered.segments.at(-1);
    return {
      cfg,
      io,
      ownsIo,
      lock,
      report: recovered.report,
      segments: recoveredSegments(recovered.segments),
      floorLsn: recovered.floorLsn,
      nextLsn: recovered.nextLsn,
      directIo,
      cut,
      clock: LogClock.forLog(cfg.clock, newest?.header, newest?.lastTime),
      release,
    };
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * Whether a writer may hold the log at `lockPath`: its owner file names a process not proven
 * gone (one in another container or on another machine counts, as it cannot be ruled out).
 */
function writerMayBeWriting(lockPath: string): boolean {
  const owner = lockOwner(lockPath);
  return owner !== null && owner.state !== 'gone';
}

/** Looks a read-only open may take: each one a truncation beside it cut short. */
const READ_ONLY_LOOKS = 8;

/**
 * A read-only open beside a writer whose truncateBefore (or retention) deletes segments
 * while it looks: a segment listed, then gone before its header was read. The floor moved
 * meanwhile, so the look is taken again, as a reader's later looks are (`foundAgain`).
 */
async function lookingAgainAfterTruncations<T>(
  io: StorageIo,
  dir: string,
  look: () => Promise<T>,
): Promise<T> {
  for (let looks = 1; ; looks++) {
    const floor = await readFloor(io, dir);
    try {
      return await look();
    } catch (error) {
      if (looks >= READ_ONLY_LOOKS || (await readFloor(io, dir)) === floor) throw error;
    }
  }
}
