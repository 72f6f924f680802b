import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { captureOutput, cli } from '../../test/helpers.js';
import { writerScriptPath } from './crash.js';
import { demoCommand } from './demo.js';

afterEach(removeTempDirs);

const bin = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

describe('walnut demo', () => {
  it('needs the built writer (run `pnpm run build` before these tests)', () => {
    expect(existsSync(writerScriptPath())).toBe(true);
  });

  it('ingests, survives a SIGKILL of its writer and finds every acknowledged record', async () => {
    const dir = join(tempDir(), 'demo');
    const captured = captureOutput();
    const code = await demoCommand(
      { dir, seconds: 1, producers: 8, recordSize: 64, crashAfterMs: 300, json: true },
      captured.output,
    );
    const summary = JSON.parse(captured.stdout);
    expect(summary.recovery.problems).toEqual([]);
    expect(code).toBe(0);
    expect(summary.ok).toBe(true);
    expect(summary.ingest.records).toBeGreaterThan(0);
    expect(summary.ingest.fsyncs).toBeGreaterThan(0);
    expect(summary.crash.acknowledged).toBeGreaterThan(0);
    expect(summary.recovery.acknowledgedFound).toBe(summary.crash.acknowledged);
    expect(summary.recovery.recovered).toBe(
      summary.crash.acknowledged + summary.recovery.unacknowledged,
    );
  });

  it('runs from the built bin without a terminal, printing plain progress lines and the summary', async () => {
    const dir = join(tempDir(), 'demo');
    const r = spawnSync(
      process.execPath,
      [bin, 'demo', dir, '--seconds', '1', '--producers', '16', '--crash-after-ms', '300'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(r.stderr).toContain('ingest: ');
    expect(r.stderr).toContain('SIGKILL');
    expect(r.stdout).toMatch(/throughput\s+\S+/);
    expect(r.stdout).toMatch(/commit latency\s+p50 .*p99/);
    expect(r.stdout).toMatch(/verification\s+all [\d,]+ acknowledged records back and intact/);
    expect(r.stdout).toMatch(/backend\s+\S+: /);
    expect(r.status).toBe(0);
  });

  it('will not wipe a directory it did not make (exit 2)', async () => {
    const dir = tempDir();
    await mkdir(join(dir, 'mine'));
    await writeFile(join(dir, 'mine', 'precious.txt'), 'keep me');
    const r = await cli('demo', join(dir, 'mine'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('was not made by `walnut demo`');
    expect(existsSync(join(dir, 'mine', 'precious.txt'))).toBe(true);
  });

  it('by default uses <tmp>/walnut-demo, or a fresh directory beside it when that one is not its own', async () => {
    const tmp = tempDir();
    await mkdir(join(tmp, 'walnut-demo'));
    await writeFile(join(tmp, 'walnut-demo', 'someone-elses.txt'), 'keep me');
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const captured = captureOutput();
      const code = await demoCommand(
        { seconds: 1, producers: 4, recordSize: 32, crashAfterMs: 200, json: true },
        captured.output,
      );
      expect(code).toBe(0);
      expect(JSON.parse(captured.stdout).dir).toMatch(new RegExp(`^${tmp}/walnut-demo-\\w+$`));
      expect(existsSync(join(tmp, 'walnut-demo', 'someone-elses.txt'))).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = saved;
    }
  });
});
