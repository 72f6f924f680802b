import { invalidArgument } from '@walnut/codec';

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
