import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * `pnpm test`: every project's short tier (the long tier is `vitest.long.config.ts`). Most
 * files wait on fsync or child processes rather than compute, so two workers overlap those
 * waits even on two cores, where vitest's default (cores − 1) would run one file at a time.
 */
export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*', 'bench', 'soak', 'test'],
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
