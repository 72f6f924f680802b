import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

/**
 * The folders of src/, lowest first: each may import the ones before it, never one after
 * it (README.md "Inside the package"). Above them all sit the front's files in src/ itself.
 */
const ORDER = ['files', 'recovery', 'write', 'cut', 'read'];

/** The files of src/ every folder may import: vocabulary that imports no folder. */
const VOCABULARY = ['config.ts', 'listeners.ts', 'usage-errors.ts'];

/** `to` relative to src/, with '/' between its parts on every system (Windows too). */
function inSrc(to: string): string {
  return relative(SRC, to).split(sep).join('/');
}

/** Every relative import of the non-test sources in `folder` (src/ itself for '.'). */
function importsOf(folder: string): { file: string; target: string }[] {
  const found: { file: string; target: string }[] = [];
  for (const entry of readdirSync(join(SRC, folder), { withFileTypes: true })) {
    const name = entry.name;
    if (!entry.isFile() || !name.endsWith('.ts') || name.endsWith('.test.ts')) continue;
    const file = join(SRC, folder, name);
    for (const match of readFileSync(file, 'utf8').matchAll(/from '(\.{1,2}\/[^']+)'/g)) {
      const target = inSrc(join(dirname(file), match[1]!)).replace(/\.js$/, '.ts');
      found.push({ file: inSrc(file), target });
    }
  }
  return found;
}

function folderOf(target: string): string {
  return target.includes('/') ? target.split('/')[0]! : '.';
}

describe('the folders of segmented/src', () => {
  it('are all in the order, so a new one gets a place in it', () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name);
    expect(folders.sort()).toEqual([...ORDER].sort());
  });

  it('import only folders below their own, and of src/ only the vocabulary', () => {
    const climbs: string[] = [];
    for (const [level, folder] of ORDER.entries()) {
      for (const { file, target } of importsOf(folder)) {
        const reached = folderOf(target);
        if (reached === '.') {
          if (!VOCABULARY.includes(target)) climbs.push(`${file} imports ${target}`);
          continue;
        }
        const at = ORDER.indexOf(reached);
        if (at < 0 || at > level) climbs.push(`${file} imports ${target}`);
      }
    }
    expect(climbs).toEqual([]);
  });

  it('have a vocabulary in src/ that imports no folder', () => {
    const reaching = importsOf('.')
      .filter(({ file }) => VOCABULARY.includes(file))
      .filter(({ target }) => folderOf(target) !== '.')
      .map(({ file, target }) => `${file} imports ${target}`);
    expect(reaching).toEqual([]);
  });
});
