import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, encryptedWalLog, flipByte, simpleLog } from '../test/helpers.js';

afterEach(removeTempDirs);

const bin = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const runBin = (...args: string[]) =>
  spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });

describe('walnut command line', () => {
  it('prints help with the exit codes and exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    for (const command of ['demo', 'inspect', 'dump', 'verify', 'repair', 'tail', 'bench']) {
      expect(r.stdout).toContain(command);
    }
    expect(r.stdout).toContain('Exit codes:');
  });

  it.each(['demo', 'inspect', 'dump', 'verify', 'repair', 'tail', 'bench'])(
    'has --help for %s',
    async (command) => {
      const r = await cli(command, '--help');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: walnut ${command}`);
    },
  );

  it('exits 2 on an unknown command', async () => {
    const r = await cli('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('exits 2 on a missing argument', async () => {
    const r = await cli('verify');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("missing required argument 'dir'");
  });

  it('exits 2 on a malformed LSN', async () => {
    const dir = tempDir();
    await simpleLog(dir, 1);
    const r = await cli('dump', dir, '--from', 'abc');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--from must be an LSN');
  });

  it('shows a stack trace only with --debug', async () => {
    const dir = tempDir();
    await encryptedWalLog(dir, 1);
    const plain = await cli('dump', dir);
    expect(plain.code).toBe(3);
    expect(plain.stderr).not.toContain('    at ');
    const debug = await cli('dump', dir, '--debug');
    expect(debug.code).toBe(3);
    expect(debug.stderr).toContain('    at ');
  });

  it('the built bin exits with the documented codes', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 5);
    expect(runBin('verify', dir).status).toBe(0);
    await flipByte(seg.path, seg.frameOffsets[2]! + 9);
    const corrupt = runBin('verify', dir);
    expect(corrupt.status).toBe(1);
    expect(corrupt.stdout).toContain(`${seg.name} at offset ${seg.frameOffsets[2]}`);
    expect(runBin('verify').status).toBe(2);
    const missing = runBin('inspect', `${dir}/nope`);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^walnut: .* does not exist/);
    const notADirectory = runBin('inspect', seg.path);
    expect(notADirectory.status).toBe(2);
    expect(notADirectory.stderr).toMatch(/^walnut: .* is one segment file of a Walnut log/);
    const encrypted = tempDir();
    await encryptedWalLog(encrypted, 1);
    expect(runBin('verify', encrypted).status).toBe(0);
    const keyMissing = runBin('tail', encrypted);
    expect(keyMissing.status).toBe(3);
    expect(keyMissing.stderr).toMatch(/^walnut: WAL_KEY_MISSING: .* the CLI takes no keys/);
  });
});
