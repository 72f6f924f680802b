import { execFileSync, spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeFileHeader } from '@walnut/codec';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, flipByte, simpleLog } from '../test/helpers.js';

afterEach(removeTempDirs);

/** The CLI as a user meets it (issue #17, item 7): each test failed before its fix. */
const bin = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'cli.js');

describe('walnut, tried as a user would', () => {
  it('answers --version', async () => {
    const { code, stdout } = await cli('--version');
    expect(code).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('says a directory of per-core logs is not one it reads, in every command, and changes nothing', async () => {
    const core = encodeFileHeader({
      firstLsn: 0n,
      salt: Buffer.alloc(16, 1),
      cipher: 'none',
      fileKind: 'core',
      keyId: 0,
      version: 1,
    });
    // Under percore's default names, and under names that look like segments.
    for (const names of [['wal-0.log', 'wal-1.log'], ['00000000000000000000.wal']]) {
      const dir = tempDir();
      await writeFile(join(dir, 'MANIFEST'), '{}\n');
      for (const name of names) await writeFile(join(dir, name), core);
      const before = (await readdir(dir)).sort();
      for (const command of ['inspect', 'dump', 'verify', 'tail', 'repair']) {
        const { code, stderr } = await cli(command, dir);
        expect({ command, code }).toEqual({ command, code: 2 });
        expect(stderr).toMatch(/holds per-core logs .* PerCoreWalManager\.openAndRecover/);
      }
      expect((await readdir(dir)).sort()).toEqual(before);
    }
  });

  it('treats a missing or empty directory the same in every command: not a log, exit 2', async () => {
    const empty = tempDir();
    const missing = join(empty, 'nothing-here');
    for (const dir of [empty, missing]) {
      for (const command of ['inspect', 'dump', 'verify', 'tail', 'repair']) {
        const { code, stderr } = await cli(command, dir);
        expect({ command, code }).toEqual({ command, code: 2 });
        expect(stderr).toMatch(dir === empty ? /is not a Walnut log/ : /does not exist/);
      }
    }
  });

  it('treats a file path the same in every command: not a log, exit 2, and says what to pass', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 3);
    const file = join(dir, 'notes.txt');
    await writeFile(file, 'x');
    for (const command of ['inspect', 'dump', 'verify', 'tail', 'repair']) {
      const onFile = await cli(command, file);
      expect({ command, code: onFile.code }).toEqual({ command, code: 2 });
      expect(onFile.stderr).toContain(
        `${file} is a file, not a Walnut log; pass the directory a Wal or SegmentedWal was opened on`,
      );
      const onSegment = await cli(command, seg.path);
      expect({ command, code: onSegment.code }).toEqual({ command, code: 2 });
      expect(onSegment.stderr).toContain(
        `${seg.path} is one segment file of a Walnut log, not the log; pass the directory that holds it (${dir})`,
      );
      expect(onSegment.stderr).not.toContain('WAL_IO');
    }
  });

  it('verify names one damaged frame once, with the LSN it lost', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 20);
    await flipByte(seg.path, seg.frameOffsets[7]! + 12);
    const { code, stdout } = await cli('verify', dir);
    expect(code).toBe(1);
    const findings = stdout.split('\n').filter((line) => line.startsWith('CORRUPT: 0'));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toContain('LSNs 8..8 lost');
  });

  it('tail on a damaged log says why on stderr and exits 1', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 20);
    await flipByte(seg.path, seg.frameOffsets[15]! + 12);
    const { code, stderr } = await cli('tail', dir, '-n', '3');
    expect(code).toBe(1);
    expect(stderr).toMatch(/is damaged at offset \d+/);
  });

  it('tail -f stopped with Ctrl-C (SIGINT) exits 130', async () => {
    const dir = tempDir();
    await simpleLog(dir, 3);
    const child = spawn(process.execPath, [bin, 'tail', dir, '-f'], { stdio: 'pipe' });
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    for (let i = 0; i < 200 && !out.includes('record-3'); i++) {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out).toContain('record-3');
    expect(code).toBe(130);
  });

  it('draws its progress bar on a terminal without raw {fields} or "of 100"', async () => {
    const dir = tempDir();
    await mkdir(dir, { recursive: true });
    await simpleLog(dir, 200);
    // `script` gives the command a pseudo-terminal, as a user's shell does. CI is unset: on a
    // CI runner (CI=true) the CLI rightly prints plain lines even on a terminal.
    const { CI: _ci, ...env } = process.env;
    const screen = execFileSync(
      'script',
      ['-qec', `${process.execPath} ${bin} verify ${dir}`, '/dev/null'],
      { encoding: 'utf8', env },
    );
    expect(screen).toContain('verify |');
    expect(screen).not.toMatch(/\{\w+\}/);
    expect(screen).not.toContain('of 100');
  });
});
