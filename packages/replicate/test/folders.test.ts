import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

/**
 * The folders of src/, lowest first: each may import the ones before it, never one after
 * it. `options.ts` (the vocabulary of both roles) and `testing/` stand outside the order.
 */
const ORDER = ['cluster', 'local', 'primary', 'follower'];

/** Every relative import of the non-test sources in `folder`: [file, folder it reaches]. */
function importsOf(folder: string): [string, string][] {
  const found: [string, string][] = [];
  for (const name of readdirSync(join(SRC, folder))) {
    if (!name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    const file = join(SRC, folder, name);
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = relative(SRC, join(dirname(file), match[1]!));
      const reached = target.includes('/') ? target.split('/')[0]! : '.';
      found.push([`${folder}/${name}`, reached]);
    }
  }
  return found;
}

describe('the folders of replicate/src', () => {
  it('are all in the order, so a new one gets a place in it', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name !== 'testing')
      .map((entry) => entry.name);
    expect(folders.sort()).toEqual([...ORDER].sort());
  });

  it('import only folders below their own (and options.ts)', () => {
    const climbs: string[] = [];
    for (const [level, folder] of ORDER.entries()) {
      for (const [file, reached] of importsOf(folder)) {
        if (reached === '.') continue;
        const at = ORDER.indexOf(reached);
        if (at < 0 || at > level) climbs.push(`${file} imports ${reached}/`);
      }
    }
    expect(climbs).toEqual([]);
  });
});
