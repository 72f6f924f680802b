import {
  CUT_POLL_MS,
  CUT_WAIT_MS,
  isWalError,
  lowestCutSince,
  type SuffixCut,
  sameCut,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { readFloor, readLastCut } from './log-dir.js';

/** Errors a cut beside a reader causes (it deletes and replaces files under it). */
const CUT_SYMPTOMS = new Set<string>([
  WalErrorCode.CORRUPT,
  WalErrorCode.IO,
  WalErrorCode.MISSING_SEGMENT,
  WalErrorCode.REPLAY_BELOW_FLOOR,
]);

/**
 * A replay's view of the log's CUT file, read as a seqlock (decision 0341): the replay
 * starts once no cut is under way, and whatever it finds counts only while CUT still reads
 * the same. A record is handed out only from a segment mapped while it did; a failure while
 * it did not is the cut's doing, reported as WAL_TRUNCATED naming the lowest cut made since.
 */
export class CutWatch {
  private constructor(
    readonly dir: string,
    readonly start: SuffixCut | null,
  ) {}

  /**
   * The watch of a replay starting now: waits until the writer's cut, if one is under way,
   * is done (up to CUT_WAIT_MS; WAL_BAD_STATE after, as its writer may be gone).
   */
  static async settled(dir: string): Promise<CutWatch> {
    const deadline = Date.now() + CUT_WAIT_MS;
    for (;;) {
      const cut = readLastCut(dir);
      if (cut === null || cut.state === 'done') return new CutWatch(dir, cut);
      if (Date.now() >= deadline) {
        throw new WalError(
          WalErrorCode.BAD_STATE,
          `${dir} records a truncateAfter(${cut.afterLsn}) that has not finished in ${CUT_WAIT_MS / 1000} s: its writer is still cutting, or was killed while cutting. Replay again once a writer has opened the log (which finishes the cut)`,
          { details: { lsn: cut.afterLsn } },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, CUT_POLL_MS));
    }
  }

  /** The cut generation the replay started in (0 when the log was never cut). */
  get generation(): bigint {
    return this.start?.generation ?? 0n;
  }

  /** Whether no cut ran since the start (none under way either). */
  unchanged(): boolean {
    return sameCut(this.start, readLastCut(this.dir));
  }

  /**
   * What a replay that failed with `error` is told: a failure while a cut ran (or one ran
   * since) is WAL_TRUNCATED; any other error is its own.
   */
  judge(error: unknown, handedOut: bigint): unknown {
    if (!isWalError(error) || !CUT_SYMPTOMS.has(error.code)) return error;
    let cut: SuffixCut | null;
    try {
      cut = readLastCut(this.dir);
    } catch {
      return error;
    }
    return sameCut(this.start, cut) ? error : this.truncated(handedOut, cut, error);
  }

  /** WAL_TRUNCATED for a replay that handed out records up to `handedOut` when a cut ran. */
  truncated(handedOut: bigint, cut = readLastCut(this.dir), cause?: unknown): WalError {
    return truncatedSince(this.dir, this.generation, cut, handedOut, cause);
  }
}

/**
 * WAL_TRUNCATED for records up to `handedOut` read in cut generation `since` of the log in
 * `dir`, which `cut` (its CUT file now) says was cut since. It names the lowest cut made
 * since when the CUT file remembers it, and says when it does not. `details.cutGeneration`
 * is the generation to pass with a replay from `details.lsn + 1`.
 */
export function truncatedSince(
  dir: string,
  since: bigint,
  cut: SuffixCut | null,
  handedOut: bigint,
  cause?: unknown,
): WalError {
  const cuts = (cut?.generation ?? 0n) - since;
  const lowest = cut === null ? null : lowestCutSince(cut, since);
  const detailsOf = (lsn: bigint) => ({
    details: { lsn, handedOut, cuts, cutGeneration: cut?.generation ?? 0n },
    ...(cause === undefined ? {} : { cause }),
  });
  if (lowest === null) {
    // More cuts than the CUT file remembers: only the floor is known to be below them all.
    const bound = (readFloor(dir) ?? 1n) - 1n;
    return new WalError(
      WalErrorCode.TRUNCATED,
      `the writer of ${dir} cut the log (truncateAfter) ${cuts} times while this replay read it, more than its CUT file remembers, so the lowest cut is not known: every record it handed out after LSN ${bound} may be of a removed history. Drop them and replay again from LSN ${bound + 1n}`,
      detailsOf(bound),
    );
  }
  const what =
    handedOut > lowest
      ? `the records after LSN ${lowest} it handed out (up to ${handedOut}) belong to the history the cut removed; drop them and replay again from ${lowest + 1n}`
      : `nothing it handed out was cut; replay again from ${handedOut + 1n}`;
  return new WalError(
    WalErrorCode.TRUNCATED,
    `the writer of ${dir} cut the log (truncateAfter, after LSN ${lowest}${cuts > 1n ? `, the lowest of ${cuts} cuts` : ''}) while this replay read it, so it stops rather than go on into the history written after the cut: ${what}, passing details.cutGeneration as cutGeneration`,
    detailsOf(lowest),
  );
}
