import { fileURLToPath } from 'node:url';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/** Prints the seeds of the FaultyStorageIo instances of a test that failed (WALNUT_FAULT_SEED). */
const faultSeeds = fileURLToPath(new URL('./vitest.fault-seeds.ts', import.meta.url));

/**
 * The long tier: files that run real crashes, nats-server clusters or power losses for many
 * cycles. `pnpm test` leaves them out; `pnpm test:long` runs only them (decision 0007).
 */
const LONG = /\.test\.ts$/;
const LONG_TESTS = '**/*.long.test.ts';
const NOT_INSTALLED = '**/node_modules/**';

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
      exclude: [NOT_INSTALLED, LONG_TESTS],
      testTimeout: extra.testTimeout ?? 20_000,
      setupFiles: [faultSeeds],
    },
  });
}

/** The same project's long tier (a directory's `vitest.long.config.ts`): only `*.long.test.ts`. */
export function longTier(project: UserWorkspaceConfig): UserWorkspaceConfig {
  const test = project.test ?? {};
  return {
    ...project,
    test: {
      ...test,
      name: `${test.name}:long`,
      include: (test.include ?? []).map((glob) => glob.replace(LONG, '.long.test.ts')),
      exclude: [NOT_INSTALLED],
    },
  };
}
