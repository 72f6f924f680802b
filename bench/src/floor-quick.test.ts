import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nodeFsFloor } from './contenders/node-fs-floor.js';
import {
  type DriverTask,
  ReplayMismatch,
  runBuffered,
  runFsyncEach,
  runGroupCommit,
  runReplay,
} from './drivers.js';
import { WORKLOAD_SEEDS, type WorkloadId } from './workloads.js';

const root = mkdtempSync(join(tmpdir(), 'walnut-bench-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const floor = await nodeFsFloor.load();

function task(workload: WorkloadId, records: number, recordSize = 128, producers = 1): DriverTask {
  const dir = mkdtempSync(join(root, `${workload}-`));
  return { workload, dir, records, recordSize, producers, seed: WORKLOAD_SEEDS[workload] };
}

function expectSaneRate(metrics: { seconds: number; recordsPerSec: number; mbPerSec: number }) {
  expect(metrics.seconds).toBeGreaterThan(0);
  expect(Number.isFinite(metrics.recordsPerSec)).toBe(true);
  expect(metrics.recordsPerSec).toBeGreaterThan(0);
  expect(metrics.mbPerSec).toBeGreaterThan(0);
}

describe('a small run of the node:fs floor', () => {
  const w1 = task('W1', 3000);

  it('W1 writes every record and syncs once at the end', async () => {
    const metrics = await runBuffered(floor, w1);
    expect(metrics.records).toBe(3000);
    expect(metrics.selfReportedSyncs).toBe(1);
    expectSaneRate(metrics);
  });

  it('W4 replays what W1 wrote, all of it, in order, with CRCs checked', async () => {
    const metrics = await runReplay(floor, w1, () => {});
    expect(metrics.records).toBe(3000);
    expect(metrics.checksumsVerified).toBe(true);
    expectSaneRate(metrics);
  });

  it('W4 notices a replay that is not the records W1 wrote', async () => {
    await expect(runReplay(floor, { ...w1, seed: 1 }, () => {})).rejects.toThrow(ReplayMismatch);
  });

  it('W2 syncs once per record and reports latencies', async () => {
    const metrics = await runFsyncEach(floor, task('W2', 20));
    expect(metrics.selfReportedSyncs).toBe(20);
    expect(metrics.p50Us).toBeGreaterThan(0);
    expect(metrics.p99Us).toBeGreaterThanOrEqual(metrics.p50Us);
  });

  it('W3 group-commits: fewer syncs than records, never more than 64 records per sync', async () => {
    const metrics = await runGroupCommit(floor, task('W3', 640, 128, 64));
    const syncs = metrics.selfReportedSyncs ?? 0;
    expect(syncs).toBeGreaterThanOrEqual(10);
    expect(syncs).toBeLessThan(640);
    expectSaneRate(metrics);
  });

  it('W5 writes 64 KiB records (larger than a frame header, smaller than the buffer)', async () => {
    const metrics = await runBuffered(floor, task('W5', 40, 64 * 1024));
    expect(metrics.records).toBe(40);
    expect(metrics.selfReportedSyncs).toBe(1);
    expectSaneRate(metrics);
  });
});
