import {
  CUT_FILE,
  CUT_POLL_MS,
  CUT_WAIT_MS,
  decodeCut,
  lowestCutSince,
  type SuffixCut,
  sameCut,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { readDecodedFile, readFloor } from './directory.js';

/** Looks a reader may take for one view: each one a cut beside it spoilt. */
const LOOKS = 100;

/** The log's CUT file (null when it was never cut); WAL_CORRUPT when it is damaged. */
export async function readCut(dir: string): Promise<SuffixCut | null> {
  const cut = await readDecodedFile(dir, CUT_FILE, decodeCut);
  if (cut.kind === 'damaged') throw new WalError(WalErrorCode.CORRUPT, cut.reason);
  return cut.kind === 'valid' ? cut.value : null;
}

/**
 * The CUT file once no truncateAfter is under way: a reader beside a writer that is cutting
 * waits for the cut to finish (its files are half cut until then), up to CUT_WAIT_MS, then
 * gets WAL_BAD_STATE. Null when `signal` ends the wait.
 */
export async function settledCut(
  dir: string,
  signal?: AbortSignal,
): Promise<{ cut: SuffixCut | null } | null> {
  const deadline = Date.now() + CUT_WAIT_MS;
  for (;;) {
    const cut = await readCut(dir);
    if (cut === null || cut.state === 'done') return { cut };
    if (Date.now() >= deadline) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `${dir} has been in the middle of a truncateAfter(${cut.afterLsn}) for ${CUT_WAIT_MS / 1000} s: a writer is cutting it slowly, or one stopped (a crash, a power loss) before the cut was done. If no writer has it open, run \`walnut repair ${dir}\`, which finishes the cut as the next writer's open would; otherwise try again`,
        { details: { lsn: cut.afterLsn } },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, CUT_POLL_MS));
    if (signal?.aborted) return null;
  }
}

/**
 * `look` at the files of the log in `dir` between two reads of its CUT file (a seqlock,
 * decision 0341): taken once no cut is under way, and again while a cut ran during it, so
 * that what it found, or failed on, is the log's own and of one history.
 */
export async function lookBetweenCuts<T>(
  dir: string,
  look: () => Promise<T>,
): Promise<{ cut: SuffixCut | null; result: T }> {
  for (let looks = 1; ; looks++) {
    const { cut } = (await settledCut(dir))!;
    let result: T;
    try {
      result = await look();
    } catch (error) {
      if (looks >= LOOKS || sameCut(cut, await readCut(dir))) throw error;
      continue;
    }
    if (sameCut(cut, await readCut(dir))) return { cut, result };
    if (looks >= LOOKS) {
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `the writer of ${dir} cut the log (truncateAfter) during each of ${looks} looks at it; try again when it cuts less often`,
      );
    }
  }
}

/**
 * WAL_TRUNCATED for a reader that showed records up to `shown` in cut generation `since`,
 * when `cut` (the CUT file now) says the log was cut since below them; null when every cut
 * since kept them all (the reader may read on).
 */
export async function cutBelowShown(
  dir: string,
  since: SuffixCut | null,
  cut: SuffixCut | null,
  shown: bigint,
): Promise<WalError | null> {
  const lowest = cut === null ? null : lowestCutSince(cut, since?.generation ?? 0n);
  if (lowest !== null && lowest >= shown) return null;
  const again = `Run \`walnut tail -f ${dir}\` again to follow the log as it is now`;
  if (lowest === null) {
    // More cuts than the CUT file remembers: only the floor is known to be below them all.
    const floor = await readFloor(dir);
    const bound = (floor.kind === 'valid' ? floor.lsn : 1n) - 1n;
    return new WalError(
      WalErrorCode.TRUNCATED,
      `the writer of ${dir} cut the log (truncateAfter) more times since this tail looked than its CUT file remembers, so the lowest cut is not known: the records it showed after LSN ${bound} may be of a removed history. ${again}`,
      { details: { lsn: bound } },
    );
  }
  return new WalError(
    WalErrorCode.TRUNCATED,
    `the writer of ${dir} cut the log (truncateAfter) after LSN ${lowest}, below LSN ${shown}, the last record this tail showed; what it writes now belongs to another history. ${again}`,
    { details: { lsn: lowest } },
  );
}
