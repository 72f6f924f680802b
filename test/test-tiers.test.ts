import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * `pnpm test` leaves out every `*.long.test.ts`, and `pnpm test:long` finds them through the
 * `vitest.long.config.ts` of their project's directory (decision 0007): a long file in a
 * project without one would run nowhere.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', 'build', 'prebuilds', '.turbo']);

function projectDirs(): string[] {
  const inside = (top: string) =>
    readdirSync(join(root, top), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(root, top, entry.name));
  return [
    ...inside('packages'),
    ...inside('examples'),
    ...['bench', 'soak', 'test'].map((d) => join(root, d)),
  ];
}

function longFiles(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...longFiles(path));
    else if (entry.name.endsWith('.long.test.ts')) found.push(path);
  }
  return found;
}

describe('the long test tier', () => {
  it('has a vitest.long.config.ts in every project that holds a *.long.test.ts', () => {
    const orphans = projectDirs()
      .filter((dir) => !existsSync(join(dir, 'vitest.long.config.ts')))
      .flatMap((dir) => longFiles(dir).map((file) => relative(root, file)));
    expect(orphans).toEqual([]);
  });

  it('has no vitest.long.config.ts in a project without long files', () => {
    const empty = projectDirs()
      .filter((dir) => existsSync(join(dir, 'vitest.long.config.ts')))
      .filter((dir) => longFiles(dir).length === 0)
      .map((dir) => relative(root, dir));
    expect(empty).toEqual([]);
  });
});
