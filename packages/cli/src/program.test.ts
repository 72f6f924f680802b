import { describe, expect, it } from 'vitest';
import { cli, simpleLog, tempDir } from '../test/helpers.js';

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
    const dir = await tempDir();
    await simpleLog(dir, 1);
    const r = await cli('dump', dir, '--from', 'abc');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--from must be an LSN');
  });

  it('shows a stack trace only with --debug', async () => {
    const plain = await cli('inspect', '/nonexistent/walnut-x');
    expect(plain.stderr).not.toContain('    at ');
    const debug = await cli('inspect', '/nonexistent/walnut-x', '--debug');
    expect(debug.code).toBe(3);
    expect(debug.stderr).toContain('    at ');
  });
});
