import { spawnSync } from 'node:child_process';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { runNemesis } from '../src/testing/index.js';

afterEach(removeTempDirs);

describe('the nemesis, CI-sized', () => {
  it('loses no acknowledged record and no replica diverges silently through kills, pauses, partitions and a lost quorum', async () => {
    const dir = tempDir('walnut-nemesis-');
    const lines: string[] = [];
    const report = await runNemesis({
      faults: 6,
      seed: 38,
      workDir: dir,
      producers: 16,
      appendsPerSecond: 400,
      checkEvery: 3,
      maxFaultMs: 3_000,
      progress: (line) => lines.push(line),
    });
    expect(report.findings, lines.join('\n')).toEqual([]);
    expect(report.acknowledgedLost).toBe(0);
    expect(report.silentDivergences).toBe(0);
    expect(report.acknowledged).toBeGreaterThan(500);
    // Every server's own copy was read (three copies, checked twice).
    expect(report.replicaMessagesCompared).toBeGreaterThan(100);
    expect(Object.values(report.faults).reduce((a, b) => a + b, 0)).toBe(6);
  }, 600_000);

  it('loses no acknowledged record through promotions while the old primary is partitioned, alive, and heals after', async () => {
    const dir = tempDir('walnut-nemesis-');
    const lines: string[] = [];
    const report = await runNemesis({
      faults: 3,
      seed: 58,
      workDir: dir,
      producers: 16,
      appendsPerSecond: 400,
      checkEvery: 3,
      maxFaultMs: 3_000,
      kinds: ['promote-partitioned'],
      progress: (line) => lines.push(line),
    });
    expect(report.findings, lines.join('\n')).toEqual([]);
    expect(report.faults['promote-partitioned']).toBe(3);
    expect(report.acknowledgedLost).toBe(0);
    expect(report.silentDivergences).toBe(0);
    expect(report.acknowledged).toBeGreaterThan(200);
  }, 600_000);

  it('ends early when its signal aborts: no more faults, the final check, every process stopped', async () => {
    const dir = tempDir('walnut-nemesis-');
    const lines: string[] = [];
    const stop = new AbortController();
    const report = await runNemesis({
      faults: 50,
      seed: 64,
      workDir: dir,
      producers: 8,
      appendsPerSecond: 200,
      maxFaultMs: 2_000,
      kinds: ['kill-follower'],
      signal: stop.signal,
      progress: (line) => {
        lines.push(line);
        if (line.startsWith('fault 1/')) stop.abort('asked to stop');
      },
    });
    expect(report.findings, lines.join('\n')).toEqual([]);
    expect(report.faults['kill-follower']).toBe(1);
    expect(lines).toContain('stopped after 1 of 50 faults: asked to stop');
    expect(lines.some((line) => line.startsWith('check 1 (final)'))).toBe(true);
    // No server, proxy child or primary of this run is left: nothing names its directory.
    expect(spawnSync('pgrep', ['-f', dir]).status).toBe(1);
  }, 600_000);
});
