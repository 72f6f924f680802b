import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { RETENTION, SEGMENT_SIZE } from './jobs.js';
import { runQueue } from './run.js';

it('runs every job at least once in each consumer, across a SIGKILL, with disk bounded by retention', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walnut-job-queue-'));
  try {
    // The processes run the built @walnut/wal (dist/), like a real application.
    const result = await runQueue({ dir, jobs: 1_500, killEmailAfter: 400 });
    for (const name of ['billing', 'email']) {
      expect(result.consumers[name]!.missing).toEqual([]);
      expect(result.consumers[name]!.distinct).toBe(1_500);
    }
    // The restarted consumer resumed at its last commit + 1: at or after the last job it
    // reported done, and at most the one job it was on when killed (run, not committed) ran twice.
    const { committedLsn, lastDoneBeforeKill } = result.resume;
    expect(committedLsn).toBeGreaterThanOrEqual(lastDoneBeforeKill);
    expect(committedLsn).toBeLessThanOrEqual(lastDoneBeforeKill + 1n);
    for (const id of result.consumers.email!.repeated) expect(BigInt(id)).toBe(committedLsn + 1n);
    expect(result.consumers.billing!.repeated).toEqual([]);
    // Retention deleted segments, and what is left fits maxBytes plus the segment being written.
    expect(result.producer.segmentsDeleted).toBeGreaterThan(0);
    expect(result.producer.diskBytes).toBeLessThanOrEqual(RETENTION.maxBytes + SEGMENT_SIZE);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 120_000);
