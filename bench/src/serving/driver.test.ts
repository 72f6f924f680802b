import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IntervalHistogram } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import type { LoadedContender, LogWriter } from '../contender.js';
import { nodeFsFloor } from '../contenders/node-fs-floor.js';
import type { DriverTask } from '../drivers.js';
import { requiredSyncs } from '../durability.js';
import { WORKLOAD_SEEDS, workloadSpecs } from '../workloads.js';
import { dueMs, loopDelayUs, plannedMs, runIngestWhileServing } from './driver.js';
import { startLoadInProcess } from './load-process.js';

const root = mkdtempSync(join(tmpdir(), 'walnut-bench-w6-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function task(records: number, producers: number, appendsPerSec = 1000): DriverTask {
  return {
    workload: 'W6',
    dir: mkdtempSync(join(root, 'run-')),
    records,
    recordSize: 128,
    producers,
    seed: WORKLOAD_SEEDS.W6,
    serving: { appendsPerSec, requestsPerSec: 200, loopResolutionMs: 1, warmUpMs: 50 },
  };
}

/** A contender whose durable appends take `ms` each, spent as `how` says. */
function stubContender(ms: number, how: 'blocking' | 'waiting'): LoadedContender {
  let appended = 0;
  const writer: LogWriter = {
    append: () => undefined,
    sync: async () => {},
    appendDurable(): Promise<void> {
      appended++;
      if (how === 'waiting') return new Promise((resolve) => setTimeout(resolve, ms));
      const until = performance.now() + ms;
      while (performance.now() < until) {
        // Holds the event loop, as a synchronous fdatasync does.
      }
      return Promise.resolve();
    },
    syncsCompleted: () => appended,
    close: async () => {},
  };
  return {
    versions: {},
    notes: [],
    openWriter: async () => writer,
    replay: async () => ({ checksumsVerified: false }),
  };
}

describe('the W6 schedule', () => {
  it('spaces the appends evenly at the asked rate', () => {
    expect(dueMs(0, 2000)).toBe(0);
    expect(dueMs(1, 2000)).toBe(0.5);
    expect(plannedMs(12_000, 2000)).toBe(6000);
  });

  it('is a fixed rate with a warm-up in both modes, and asks an honest group commit of W3', () => {
    for (const mode of ['quick', 'full'] as const) {
      const w6 = workloadSpecs(mode).W6;
      expect(w6.serving?.appendsPerSec).toBeGreaterThan(0);
      expect(w6.serving?.warmUpMs).toBeGreaterThan(0);
      expect(w6.durable).toBe(true);
      expect(requiredSyncs(w6)).toBe(Math.ceil(w6.records / w6.producers));
    }
  });
});

describe('the event-loop delay', () => {
  const histogram = (p50Ns: number, p99Ns: number, maxNs: number) =>
    ({
      percentile: (p: number) => (p === 50 ? p50Ns : p99Ns),
      max: maxNs,
    }) as unknown as IntervalHistogram;

  it('is what the timer interval exceeds its period by, in µs', () => {
    expect(loopDelayUs(histogram(1.1e6, 3e6, 12e6), 1)).toEqual({
      loopDelayP50Us: 100,
      loopDelayP99Us: 2000,
      loopDelayMaxUs: 11_000,
    });
  });

  it('is never negative (the timer may run early within a turn)', () => {
    expect(loopDelayUs(histogram(2e3, 0.5e6, 1e6), 1).loopDelayP50Us).toBe(0);
  });
});

describe('a small W6 run', () => {
  it('makes every append of the node:fs floor durable while every request is answered', async () => {
    const floor = await nodeFsFloor.load();
    const metrics = await runIngestWhileServing(floor, task(200, 8), startLoadInProcess);
    expect(metrics.records).toBe(200);
    expect(metrics.targetPerSec).toBe(1000);
    expect(metrics.recordsPerSec).toBeGreaterThan(0);
    // Warm-up appends are synced too; the 200 measured ones need at least 200 / 8 syncs.
    expect(metrics.selfReportedSyncs).toBeGreaterThanOrEqual(25);
    expect(metrics.p99Us).toBeGreaterThanOrEqual(metrics.p50Us);
    expect(metrics).toMatchObject({ requestsSent: 40, requestsAnswered: 40, requestErrors: 0 });
    expect(metrics.requestP99Us).toBeGreaterThanOrEqual(metrics.requestP50Us);
    expect(metrics.loopDelayP99Us).toBeGreaterThanOrEqual(metrics.loopDelayP50Us);
    expect(metrics.loopDelayMaxUs).toBeGreaterThanOrEqual(metrics.loopDelayP99Us);
  });

  it('sees each stall of a contender that holds the event loop', async () => {
    // 20 ms of loop held per append, due every 10 ms: the producer is always behind, and each
    // append, started from a callback of its own, delays the 1 ms timer by about 19 ms (never
    // less). Chained in microtasks, they would be one stall, seen once.
    const metrics = await runIngestWhileServing(
      stubContender(20, 'blocking'),
      task(10, 1, 100),
      startLoadInProcess,
    );
    expect(metrics.records).toBeGreaterThan(0);
    expect(metrics.loopDelayP50Us).toBeGreaterThanOrEqual(15_000);
    expect(metrics.loopDelayMaxUs).toBeGreaterThanOrEqual(15_000);
  });

  it('stops at twice the planned time when a contender cannot keep the rate', async () => {
    // 200 appends planned over 200 ms; two producers whose appends take 50 ms each manage
    // a handful before the 400 ms bound.
    const metrics = await runIngestWhileServing(
      stubContender(50, 'waiting'),
      task(200, 2),
      startLoadInProcess,
    );
    expect(metrics.records).toBeGreaterThan(0);
    expect(metrics.records).toBeLessThan(200);
    expect(metrics.recordsPerSec).toBeLessThan(metrics.targetPerSec);
  });
});
