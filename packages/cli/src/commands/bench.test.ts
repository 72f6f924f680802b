import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/helpers.js';

afterEach(removeTempDirs);

describe('walnut bench', () => {
  it('runs W1 and W3 quickly and reports records, fsyncs and latency as JSON', async () => {
    const dir = tempDir();
    const r = await cli('bench', '--quick', '--json', '--dir', dir);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.backend).toMatch(/\S/);
    const byId = Object.fromEntries(report.results.map((x: { id: string }) => [x.id, x]));
    expect(byId.W1).toMatchObject({ records: 20_000, p50Ms: null });
    expect(byId.W1.fsyncs).toBeGreaterThanOrEqual(1);
    expect(byId.W3).toMatchObject({ records: 2_000 });
    expect(byId.W3.fsyncs).toBeGreaterThan(0);
    expect(byId.W3.p50Ms).toBeLessThanOrEqual(byId.W3.p99Ms);
  });

  it('prints a table by default and can run one workload', async () => {
    const r = await cli('bench', '--quick', '--workload', 'w3');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^workload\s+records\s+time/m);
    expect(r.stdout).toMatch(/^W3\s+2,000/m);
    expect(r.stdout).not.toMatch(/^W1/m);
  });

  it('exits 2 for an unknown workload', async () => {
    const r = await cli('bench', '--quick', '--workload', 'W9');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('unknown workload W9');
  });
});
