import { defineConfig } from 'vitest/config';

/** `pnpm test:long`: the long tier of every project that has one (decision 0007). */
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest.long.config.ts',
      'examples/*/vitest.long.config.ts',
      'bench/vitest.long.config.ts',
      'soak/vitest.long.config.ts',
      'test/vitest.long.config.ts',
    ],
  },
});
