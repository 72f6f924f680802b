import { fileURLToPath } from 'node:url';
import { defineProject } from 'vitest/config';

/** Prints the seeds of the FaultyStorageIo instances of a test that failed (WALNUT_FAULT_SEED). */
const faultSeeds = fileURLToPath(new URL('./vitest.fault-seeds.ts', import.meta.url));

/**
 * Every workspace project resolves `@walnut/*` imports to their TypeScript sources
 * (the `@walnut/source` export condition), so tests never run against a stale build.
 */
export function walnutProject(
  name: string,
  extra: { testTimeout?: number; include?: string[] } = {},
) {
  const conditions = ['@walnut/source', 'node', 'import', 'default'];
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: conditions } },
    test: {
      name,
      environment: 'node',
      include: extra.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: extra.testTimeout ?? 20_000,
      setupFiles: [faultSeeds],
    },
  });
}
