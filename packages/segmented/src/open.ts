import { dirname, join } from 'node:path';
import { type SuffixCut, sameCut, WalError, WalErrorCode } from '@walnut/codec';
import { Errno, type IoLock, openStorageIo, type StorageIo } from '@walnut/storage-io';
import { type ResolvedConfig, resolveConfig } from './config.js';
import { finishPendingCut, readCut } from './cut/cut-after.js';
import { settledCut, writerMayBeWriting } from './cut/cut-wait.js';
import { readFloor } from './files/floor.js';
import { LogClock } from './files/log-clock.js';
import { checkLogDirectory, lockCreationError } from './files/log-directory.js';
import type { Segment } from './files/segment.js';
import { recoveredSegments, recoverLog } from './recovery/recovery.js';
import type { FinishedCut, RecoveryReport, RecoveryResult } from './recovery/recovery-report.js';
import { type DirectIoStats, probeDirectIo } from './write/direct-io.js';

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
    const recover = (finishedCut: FinishedCut | null) =>
      recoverLog({
        finishedCut,
        io,
        dir: cfg.dir,
        mode: cfg.recovery,
        verify: cfg.verify,
        readOnly: cfg.readOnly,
        besideWriter: cfg.readOnly && writerMayBeWriting(cfg.dir),
        ring: cfg.encryption,
      });
    let cut: SuffixCut | null;
    let recovered: RecoveryResult;
    if (cfg.readOnly) {
      ({ cut, result: recovered } = await lookingAgainAfterChanges(io, cfg.dir, () =>
        recover(null),
      ));
    } else {
      // A cut that a crash interrupted is finished before recovery looks at the segments.
      const pending = await finishPendingCut(io, cfg.dir);
      cut = pending.cut;
      recovered = await recover(pending.finished);
    }
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

/** Looks a read-only open may take: each one a cut or a truncation beside it spoilt. */
const READ_ONLY_LOOKS = 100;

/**
 * A read-only open beside a writer (0320, 0340): `look` is taken once no cut is under way
 * (a live writer's cut is waited out, `settledCut`), and counts only if no cut ran while it
 * looked (the CUT file read before and after it, a seqlock): a cut deletes and replaces files
 * under the look, which then finds a mix of both histories, or fails. A look that fails
 * while a cut ran or the floor moved (truncateBefore or retention deleted segments under it)
 * is taken again. Returns what it found with the cut it is founded on.
 */
async function lookingAgainAfterChanges<T>(
  io: StorageIo,
  dir: string,
  look: () => Promise<T>,
): Promise<{ cut: SuffixCut | null; result: T }> {
  for (let looks = 1; ; looks++) {
    const cut = await settledCut(io, dir, false);
    const floor = await readFloor(io, dir);
    let result: T;
    try {
      result = await look();
    } catch (error) {
      const moved = !sameCut(cut, await readCut(io, dir)) || (await readFloor(io, dir)) !== floor;
      if (looks >= READ_ONLY_LOOKS || !moved) throw error;
      continue;
    }
    if (sameCut(cut, await readCut(io, dir))) return { cut, result };
    if (looks >= READ_ONLY_LOOKS) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `the writer of ${dir} cut the log (truncateAfter) during each of ${looks} looks of this read-only open; open it again when it cuts less often`,
      );
    }
  }
}

/**
 * The log `opened` was, as recovery found it after a cut: the lock and the StorageIo stay
 * the writer's, and `clock` goes on, so that times stamped before the cut stay the floor of
 * later ones (the log's time never goes back).
 */
export function reopenedLog(
  opened: OpenedLog,
  clock: LogClock,
  recovered: RecoveryResult,
): OpenedLog {
  return {
    ...opened,
    cut: null,
    clock,
    segments: recoveredSegments(recovered.segments),
    floorLsn: recovered.floorLsn,
    nextLsn: recovered.nextLsn,
    release: async () => {},
  };
}
