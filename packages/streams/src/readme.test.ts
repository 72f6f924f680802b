import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

describe('the README', () => {
  it('first example runs as written against the build', () => {
    const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
    const dir = tempDir();
    const code = /```js\n([\s\S]*?)```/
      .exec(readme)![1]!
      .replace(
        "'@walnut/streams'",
        JSON.stringify(pathToFileURL(join(pkg, 'dist', 'index.js')).href),
      )
      .replace("'./my-streams'", JSON.stringify(join(dir, 'log')));
    const file = join(dir, 'example.mjs');
    writeFileSync(file, code);
    const out = execFileSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    expect(out.trim().split('\n')).toEqual([
      '1 1 true',
      '0 {"id":1}',
      '1 {"id":2}',
      '2 {"id":3}',
      '3 {"id":4}',
    ]);
  });
});
