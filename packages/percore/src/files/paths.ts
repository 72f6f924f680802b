import { join } from 'node:path';
import { invalidArgument } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';

export const DEFAULT_SEGMENT_PATTERN = 'wal-{core_id}.log';
const PLACEHOLDER = '{core_id}';

/** Maps core ids to file names and back, from a pattern such as `wal-{core_id}.log`. */
export class CorePathPattern {
  private readonly matcher: RegExp;

  constructor(readonly pattern: string) {
    if (
      typeof pattern !== 'string' ||
      pattern.split(PLACEHOLDER).length !== 2 ||
      pattern.includes('/') ||
      pattern.includes('\\')
    )
      invalidArgument(
        `segmentPattern must be a file name containing {core_id} exactly once, got ${JSON.stringify(pattern)}`,
      );
    const [before, after] = pattern.split(PLACEHOLDER) as [string, string];
    this.matcher = new RegExp(`^${escapeRegExp(before)}(0|[1-9][0-9]{0,4})${escapeRegExp(after)}$`);
  }

  fileName(coreId: number): string {
    return this.pattern.replace(PLACEHOLDER, String(coreId));
  }

  /** The file of core `coreId` in `dir`. */
  path(dir: string, coreId: number): string {
    return join(dir, this.fileName(coreId));
  }

  /** The core ids of the files in `dir` that the pattern names. */
  async coreIdsIn(io: StorageIo, dir: string): Promise<Set<number>> {
    const ids = new Set<number>();
    for (const name of await io.readdir(dir)) {
      const id = this.coreIdOf(name);
      if (id !== null) ids.add(id);
    }
    return ids;
  }

  /** The core id a file name stands for, or null when it does not match the pattern. */
  coreIdOf(name: string): number | null {
    const match = this.matcher.exec(name);
    if (match === null) return null;
    const id = Number(match[1]);
    return id <= 0xffff ? id : null;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
