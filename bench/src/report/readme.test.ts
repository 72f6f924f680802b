import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { updateReadme } from './readme.js';

const dir = mkdtempSync(join(tmpdir(), 'walnut-bench-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('refreshing the README results section', () => {
  it('replaces only what lies between the markers', () => {
    const path = join(dir, 'README.md');
    writeFileSync(
      path,
      'intro\n<!-- bench-results:start -->\nold\n<!-- bench-results:end -->\nafter\n',
    );
    expect(updateReadme(path, 'new table')).toBe(true);
    expect(readFileSync(path, 'utf8')).toBe(
      'intro\n<!-- bench-results:start -->\nnew table\n<!-- bench-results:end -->\nafter\n',
    );
  });

  it('leaves a README without markers alone', () => {
    const path = join(dir, 'plain.md');
    writeFileSync(path, 'no markers\n');
    expect(updateReadme(path, 'table')).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('no markers\n');
  });
});
