import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The README's runnable examples (the ones not marked as fragments), against the build. */
function runExample(index: number): string[] {
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  const dir = mkdtempSync(join(tmpdir(), 'walnut-serve-readme-'));
  dirs.push(dir);
  const streamsDist = join(pkg, '..', 'streams', 'dist', 'index.js');
  const code = [...readme.matchAll(/```js\n([\s\S]*?)```/g)]
    [index]![1]!.replace(
      "'@walnut/serve'",
      JSON.stringify(pathToFileURL(join(pkg, 'dist', 'index.js')).href),
    )
    .replace("'@walnut/streams'", JSON.stringify(pathToFileURL(streamsDist).href))
    .replace("'./my-streams'", JSON.stringify(join(dir, 'log')));
  const file = join(dir, 'example.mjs');
  writeFileSync(file, code);
  return execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 })
    .trim()
    .split('\n');
}

describe('the README', () => {
  it('serve example runs as written against the build', () => {
    expect(runExample(0)).toEqual(['hello']);
  });

  it('handler example runs as written against the build', () => {
    expect(runExample(1)).toEqual(['201']);
  });
});
