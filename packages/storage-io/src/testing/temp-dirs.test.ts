import { existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from './temp-dirs.js';

describe('tempDir', () => {
  it('makes a fresh directory under the temp dir each call, and removeTempDirs removes them all', () => {
    const a = tempDir('walnut-kit-');
    const b = tempDir('walnut-kit-');
    writeFileSync(join(a, 'file'), 'x');
    expect(a).not.toBe(b);
    expect(dirname(a)).toBe(tmpdir());
    expect(basename(a)).toMatch(/^walnut-kit-/);
    expect([existsSync(a), existsSync(b)]).toEqual([true, true]);
    removeTempDirs();
    expect([existsSync(a), existsSync(b)]).toEqual([false, false]);
    expect(() => removeTempDirs()).not.toThrow();
  });
});
