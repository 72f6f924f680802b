import { spawn } from 'node:child_process';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expectWalError } from '@walnut/codec/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Errno } from '../contract/errors.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { makeDirectory } from './make-directory.js';

const fixture = fileURLToPath(new URL('../../test/fixtures/mkdir-child.mjs', import.meta.url));
const root = tempDir('walnut-mkdir-');
afterAll(removeTempDirs);

/** What the child reported, or 'hung' when it had to be killed. */
function mkdirInChild(path: string): Promise<Record<string, unknown> | 'hung'> {
  const proc = spawn(process.execPath, [fixture, path], { stdio: ['ignore', 'pipe', 'inherit'] });
  const killer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  let out = '';
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (chunk: string) => {
    out += chunk;
  });
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (_code, signal) => {
      clearTimeout(killer);
      resolve(signal === 'SIGKILL' ? 'hung' : JSON.parse(out));
    });
  });
}

describe('makeDirectory', () => {
  it('creates the missing ancestors, and takes a directory that exists', () => {
    const path = join(root, 'a', 'b', 'c');
    makeDirectory(path);
    makeDirectory(path);
    expect(statSync(path).isDirectory()).toBe(true);
  });

  it('refuses a path whose ancestor is a file with WAL_IO ENOTDIR', () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    expect(expectWalError(() => makeDirectory(file), 'WAL_IO')).toMatchObject({
      details: expect.objectContaining({ errno: Errno.ENOTDIR }),
    });
    expectWalError(() => makeDirectory(join(file, 'below')), 'WAL_IO');
  });

  it.runIf(process.platform === 'linux')(
    'rejects a directory under /proc promptly with a WalError saying where to put the log',
    { timeout: 30_000 },
    async () => {
      // Node's recursive mkdir spins forever here: mkdir says ENOENT although /proc exists.
      for (const path of ['/proc/walnut', '/proc/walnut/deeper']) {
        expect(await mkdirInChild(path)).toMatchObject({
          ok: false,
          walError: 'WalError',
          code: 'WAL_IO',
          message: expect.stringContaining('regular file system'),
        });
      }
    },
  );
});
