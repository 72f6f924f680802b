import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const entry = pathToFileURL(
  join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'conformance.js'),
).href;

describe('@walnut/storage-io/conformance outside vitest', () => {
  it('imports in a plain Node process, and running the suite there says it needs vitest', () => {
    const script = `
      const m = await import(${JSON.stringify(entry)});
      console.log(typeof m.runStorageIoConformance);
      try { m.runStorageIoConformance('x', () => null); } catch (e) { console.log(e.code); }
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      cwd: '/',
    });
    expect(out.trim().split('\n')).toEqual(['function', 'WAL_BAD_STATE']);
  });
});
