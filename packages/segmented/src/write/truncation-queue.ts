import type { SegmentSet, TruncateResult } from './segment-set.js';

/**
 * `truncateBefore` calls, run one at a time in call order, so two never delete from the
 * segment list at once; `close()` waits for the last.
 */
export class TruncationQueue {
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly segments: SegmentSet,
    /** Throws when the log was closed or poisoned while the truncation waited its turn. */
    private readonly checkUsable: () => void,
  ) {}

  /** Deletes the sealed segments wholly below `checkpointLsn` once the calls before it ended. */
  add(checkpointLsn: bigint): Promise<TruncateResult> {
    const run = this.last.then(() => {
      this.checkUsable();
      return this.segments.deleteBefore(checkpointLsn);
    });
    this.last = run.catch(() => {});
    return run;
  }

  /** Resolves once every truncation queued so far ended, however it ended. */
  idle(): Promise<unknown> {
    return this.last;
  }
}
