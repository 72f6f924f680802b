import { defineProject } from 'vitest/config';

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
    },
  });
}
