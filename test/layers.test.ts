import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The layer picture of the root README ("Packages: take the layer you need") as data: the
 * floor each package stands on. An arrow only points down, so a package missing here, a
 * dependency (dev ones included: tests import too) on its own floor or above, or a file
 * importing what its package does not depend on (or reaching into another package by a
 * relative path) fails.
 */
const FLOOR: Record<string, number> = {
  codec: 0,
  'storage-io': 1,
  segmented: 2,
  'mmap-reader': 2,
  percore: 2,
  portable: 2,
  wal: 3,
  replicate: 4,
  streams: 4,
  serve: 5,
  cli: 6,
};

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', 'build', 'prebuilds']);
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)'([^']+)'/g;

function* codeFiles(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* codeFiles(path);
    else if (/\.(?:ts|mts|mjs|js)$/.test(entry.name)) yield path;
  }
}

const packages = readdirSync(join(root, 'packages')).map((dir) => {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', dir, 'package.json'), 'utf8'));
  const declared = Object.keys({
    ...manifest.dependencies,
    ...manifest.peerDependencies,
    ...manifest.optionalDependencies,
    ...manifest.devDependencies,
  })
    .filter((name) => name.startsWith('@walnut/'))
    .map((name) => name.slice('@walnut/'.length));
  return { dir, name: manifest.name as string, declared };
});

describe('the layers', () => {
  it('place every package', () => {
    expect(packages.map((p) => p.dir).sort()).toEqual(Object.keys(FLOOR).sort());
  });

  it.each(packages)('$name depends only on packages below it', ({ dir, declared }) => {
    expect(declared.filter((used) => !(FLOOR[used]! < FLOOR[dir]!))).toEqual([]);
  });

  it.each(packages)('$name imports only what it depends on', ({ dir, name, declared }) => {
    const home = join(root, 'packages', dir);
    const stray: string[] = [];
    for (const file of codeFiles(home)) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const where = `${relative(root, file)}: ${specifier}`;
        if (specifier!.startsWith('.')) {
          // The repository's shared configs (tsup.shared.ts, vitest.shared.ts) are no package.
          const target = resolve(dirname(file), specifier!);
          const inPackages = !relative(join(root, 'packages'), target).startsWith('..');
          if (inPackages && relative(home, target).startsWith('..')) stray.push(where);
        } else if (specifier!.startsWith('@walnut/')) {
          const used = specifier!.slice('@walnut/'.length).split('/')[0]!;
          if (`@walnut/${used}` !== name && !declared.includes(used)) stray.push(where);
        }
      }
    }
    expect(stray).toEqual([]);
  });

  it('sees every form an import takes', () => {
    const code = [
      "import { Wal } from '@walnut/wal';",
      "} from '@walnut/segmented';",
      "export * from '../../wal/src/index.js';",
      "const m = await import('@walnut/replicate');",
      "import '@walnut/percore';",
    ].join('\n');
    expect([...code.matchAll(IMPORT)].map((m) => m[1])).toEqual([
      '@walnut/wal',
      '@walnut/segmented',
      '../../wal/src/index.js',
      '@walnut/replicate',
      '@walnut/percore',
    ]);
  });
});
