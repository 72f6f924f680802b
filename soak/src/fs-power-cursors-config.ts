/** What fs-power-cursors.ts and its child agree on. */
export const CURSOR_NAMES = ['billing', 'search', 'audit'] as const;

export interface CursorsConfig {
  dir: string;
  backend: 'io_uring' | 'sync-fs';
  seed: number;
  cycle: number;
}

/** The records of the log the cursors commit into (commits stay below LSN 1,000 + 60 × 15). */
export const RECORDS = 2000;
