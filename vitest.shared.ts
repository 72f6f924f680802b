import { fileURLToPath } from 'node:url';
import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/** Prints the seeds of the FaultyStorageIo instances of a test that failed (WALNUT_FAULT_SEED). */
const faultSeeds = fileURLToPath(new URL('./vitest.fault-seeds.ts', import.meta.url));

/**
 * The long tier: files that run real crashes, nats-server clusters or power losses for many
 * cycles. `pnpm test` leaves them out; `pnpm test:long` runs only them (decision 0007).
 */
const TEST_SUFFIX = /\.test\.ts$/;
const LONG_TESTS = '**/*.long.test.ts';
/**
 * The property tier: fast-check runs of hundreds of cases each. `pnpm test` leaves them out;
 * `pnpm test:property` runs only them, through `vitest.property.config.ts`, which sets this
 * variable before the projects' configs are read (vitest does not pass its `--mode` to them).
 */
export const TIER_VARIABLE = 'WALNUT_TEST_TIER';
const PROPERTY_TESTS = '**/*.property.test.ts';
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
  const include = extra.include ?? ['src/**/*.test.ts', 'test/**/*.test.ts'];
  const property = process.env[TIER_VARIABLE] === 'property';
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: conditions } },
    test: {
      name: property ? `${name}:property` : name,
      environment: 'node',
      include: property
        ? include.map((glob) => glob.replace(TEST_SUFFIX, '.property.test.ts'))
        : include,
      exclude: property ? [NOT_INSTALLED] : [NOT_INSTALLED, LONG_TESTS, PROPERTY_TESTS],
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
      include: (test.include ?? []).map((glob) => glob.replace(TEST_SUFFIX, '.long.test.ts')),
      exclude: [NOT_INSTALLED],
    },
  };
}
