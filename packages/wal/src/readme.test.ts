import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The README's first example, pointed at a temporary directory and at this package's build. */
function firstExample(dir: string): string {
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  if (code === undefined) throw new Error('README.md has no ```js example');
  return code
    .replace("'@walnut/wal'", JSON.stringify(pathToFileURL(join(pkg, 'dist', 'index.js')).href))
    .replace("'./my-log'", JSON.stringify(join(dir, 'log')));
}

afterEach(removeTempDirs);

describe('the README', () => {
  it('first example runs as written and prints each record it replays', () => {
    const dir = tempDir('walnut-readme-');
    const file = join(dir, 'example.mjs');
    writeFileSync(file, firstExample(dir));
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('1n hello');
    expect(lines).toHaveLength(1 + 2 + 1000);
    expect(lines.at(-1)).toBe('1003n row 999');
  });

  it("does not share its example's directory with @walnut/segmented's, whose LSN comments assume an empty log", () => {
    const dirOf = (readme: string) => /open\([^)]*'(\.\/[^']+)'/.exec(readme)?.[1];
    const wal = dirOf(readFileSync(join(pkg, 'README.md'), 'utf8'));
    const segmented = dirOf(readFileSync(join(pkg, '..', 'segmented', 'README.md'), 'utf8'));
    expect(wal).toBeDefined();
    expect(segmented).toBeDefined();
    expect(segmented).not.toBe(wal);
  });
});

describe('package.json', () => {
  it('lists each keyword once', () => {
    const { keywords } = JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')) as {
      keywords: string[];
    };
    expect(keywords).toEqual([...new Set(keywords)]);
  });
});
