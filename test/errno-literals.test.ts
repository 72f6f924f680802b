import { readdirSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * Errno numbers differ between platforms (EDQUOT is 122 on Linux and 69 on macOS, ECANCELED
 * 125 and 89, EOPNOTSUPP 95 and 102), so every package names them through `Errno`
 * (`@walnut/codec`, re-exported by `@walnut/storage-io`), which reads this platform's table.
 * These are the shapes a literal took before there was one owner (decision 0215).
 */
const NAMES = Object.keys(constants.errno).join('|');
const LITERAL_ERRNO = [
  new RegExp(`\\bconst (?:${NAMES}) = -?\\d`), // const ENOSPC = 28;
  /\berrno\??\)?\s*(?::|===|!==)\s*-?[1-9]/, // details: { errno: 5 }, err.details.errno === 2
  /\bioErrorFromErrno\(\s*-?[1-9]/, // ioErrorFromErrno(5, 'write')
  /\.result\)?\s*(?:===|!==|\)\.toBe\(|\.toBe\()\s*-[1-9]/, // c.result !== -125, toBe(-9)
  // c === null ? 5 : -c.result, c.result < 0 ? c.result : 5
  /\?\s*-?[1-9]\d*\s*:\s*-?[\w.]*result\b|\.result\s*:\s*-?[1-9]\d*\s*[,)]/,
];

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', 'build', 'prebuilds', '.turbo']);

function* sources(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP.has(entry.name) || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* sources(path);
    else if (/\.(?:ts|mts|mjs|js)$/.test(entry.name)) yield path;
  }
}

function literalErrnos(text: string): string[] {
  return text
    .split('\n')
    .map((line, i) => ({ line: line.trim(), at: i + 1 }))
    .filter(({ line }) => LITERAL_ERRNO.some((shape) => shape.test(line)))
    .map(({ line, at }) => `${at}: ${line}`);
}

describe('errno numbers', () => {
  it('are never written as literals: every package names them through Errno', () => {
    const found: string[] = [];
    for (const top of ['packages', 'examples', 'bench', 'soak', 'test']) {
      for (const file of sources(join(root, top))) {
        if (file === fileURLToPath(import.meta.url)) continue;
        for (const hit of literalErrnos(readFileSync(file, 'utf8'))) {
          found.push(`${relative(root, file)}:${hit}`);
        }
      }
    }
    expect(found).toEqual([]);
  });

  it('the check finds each shape a literal errno took', () => {
    for (const line of [
      'const EDQUOT = 122;',
      "throw new WalError(code, 'x', { details: { errno: 2, syscall: 'stat' } });",
      'if (isWalError(err) && err.details.errno === 2) {',
      'if ((err as WalError).details?.errno === 2) return null;',
      'this.host.poison(ioErrorFromErrno(5, syscall, w.seg.path));',
      '} else if (c.result !== -125) {',
      'expect((await io.completion(sync)).result).toBe(-125);',
      'const errno = c === null ? 5 : -c.result;',
      'c.result < 0 ? c.result : 5,',
    ]) {
      expect(literalErrnos(line), line).toHaveLength(1);
    }
    for (const line of [
      'const { ECANCELED } = Errno;',
      'details: { errno: Errno.EIO, syscall }',
      'if (c.result < 0) throw ioErrorFromErrno(c.result, op);',
      "expect(errnoName(100_000)).toBe('errno 100000');",
      'if (completion.result === 0) return;',
    ]) {
      expect(literalErrnos(line), line).toEqual([]);
    }
  });
});
