import { rmSync } from 'node:fs';

/** Deposed primaries whose logs a run keeps (the latest), for a post-mortem of their promotions. */
const KEPT = 2;

/**
 * The logs of the primaries a nemesis run deposed: each is a whole copy of the log, so only
 * the latest KEPT stay on disk, and a long run's work directory does not grow with every
 * promotion.
 */
export class DeposedLogs {
  private readonly dirs: string[] = [];

  /** The primary in `dir` was deposed and closed. */
  deposed(dir: string): void {
    this.dirs.push(dir);
    if (this.dirs.length > KEPT) rmSync(this.dirs.shift()!, { recursive: true, force: true });
  }
}
