import { describe, expect, it } from 'vitest';
import type { RunMetrics } from './drivers.js';
import { renderSvg } from './report/svg.js';
import { type BenchResults, type ContenderInfo, type RunRecord, summarize } from './results.js';
import { workloadSpecs } from './workloads.js';

const contenders: ContenderInfo[] = [
  { id: 'floor', label: 'floor', available: true, versions: {}, notes: [] },
  { id: 'fast', label: 'fast <&>', available: true, versions: {}, notes: [] },
  { id: 'cheat', label: 'cheat', available: true, versions: {}, notes: [] },
];

function run(contender: string, recordsPerSec: number, durable = true, rep = 1): RunRecord {
  const metrics: RunMetrics = {
    seconds: 1,
    records: recordsPerSec,
    recordsPerSec,
    mbPerSec: recordsPerSec / 1e4,
  };
  return {
    contender,
    workload: 'W1',
    rep,
    status: 'ok',
    metrics,
    durability: durable
      ? { status: 'durable', syncs: 1, source: 'strace' }
      : { status: 'not-durable', syncs: 0, why: '0 durability syscalls' },
    childSeconds: 1,
  };
}

const runs = [
  run('floor', 100, true, 1),
  run('floor', 300, true, 2),
  run('floor', 200, true, 3),
  run('fast', 400),
  run('cheat', 10_000, false),
];

describe('the summary', () => {
  const rows = summarize(runs, contenders, 'floor');

  it('divides each median by the floor median of the same run', () => {
    expect(rows.find((r) => r.contender === 'floor')).toMatchObject({ median: 200, ratio: 1 });
    expect(rows.find((r) => r.contender === 'fast')).toMatchObject({ ratio: 2, ranked: true });
  });

  it('leaves the untimed run under strace out of every median', () => {
    const traced: RunRecord = { ...run('floor', 1, true, 0), purpose: 'verification' };
    const withCheck = summarize([...runs, traced], contenders, 'floor');
    expect(withCheck.find((r) => r.contender === 'floor')).toMatchObject({ median: 200, reps: 3 });
  });

  it('reports the spread of repetitions as (max - min) / median', () => {
    expect(rows.find((r) => r.contender === 'floor')?.spread).toBe(1);
  });

  it('does not rank a run that was not durable, however fast', () => {
    const cheat = rows.find((r) => r.contender === 'cheat');
    expect(cheat).toMatchObject({ ranked: false, ratio: null });
    expect(cheat?.status).toMatch(/^not durable/);
  });

  it('draws a bar per ranked row and escapes labels in the SVG', () => {
    const results = {
      mode: 'quick',
      startedAt: '2026-01-01T00:00:00.000Z',
      machine: {
        cpuModel: 'cpu',
        cores: 2,
        memoryGiB: 1,
        kernel: 'k',
        fileSystem: 'ext4',
        device: 'd',
        node: 'v20',
      },
      contenders,
      summary: rows,
      workloads: workloadSpecs('quick'),
    } as unknown as BenchResults;
    const svg = renderSvg(results, 'floor');
    expect(svg.match(/<rect x=/g)).toHaveLength(2);
    expect(svg).toContain('fast &lt;&amp;&gt;');
    expect(svg).toContain('not durable — not ranked');
  });
});

describe('a row with a failed repetition', () => {
  const failed: RunRecord = {
    contender: 'fast',
    workload: 'W1',
    rep: 2,
    status: 'failed',
    error: 'timed out',
    durability: { status: 'not-required' },
    childSeconds: 1,
  };
  const rows = summarize([run('floor', 100), run('fast', 300), failed], contenders, 'floor');

  it('is ranked on the repetitions that succeeded, and says one failed', () => {
    const fast = rows.find((r) => r.contender === 'fast');
    expect(fast).toMatchObject({ ranked: true, ratio: 3, reps: 1 });
    expect(fast?.status).toContain('1 of 2 runs failed: timed out');
  });
});

describe('a W6 row (a delay, where lower is better)', () => {
  function w6(contender: string, loopDelayP99Us: number): RunRecord {
    return {
      contender,
      workload: 'W6',
      rep: 1,
      status: 'ok',
      metrics: {
        seconds: 6,
        records: 12_000,
        recordsPerSec: 1990,
        mbPerSec: 0.25,
        p50Us: 300,
        p99Us: 1500,
        targetPerSec: 2000,
        loopDelayP50Us: 50,
        loopDelayP99Us,
        loopDelayMaxUs: 9000,
        requestsSent: 3000,
        requestsAnswered: 3000,
        requestErrors: 0,
        requestP50Us: 400,
        requestP99Us: 2500,
        requestMaxUs: 8000,
      },
      durability: { status: 'durable', syncs: 3000, source: 'strace' },
      childSeconds: 8,
    };
  }
  const rows = summarize([w6('floor', 4000), w6('fast', 1000)], contenders, 'floor');

  it('ranks by the event-loop delay p99, the floor’s delay over the contender’s', () => {
    expect(rows.find((r) => r.contender === 'floor')).toMatchObject({
      median: 4000,
      unit: 'µs',
      ratio: 1,
    });
    // A quarter of the floor's delay is 4×: higher is better, as in every other row.
    expect(rows.find((r) => r.contender === 'fast')).toMatchObject({ ratio: 4, ranked: true });
  });

  it('shows the requests’ latency and the achieved append rate beside it', () => {
    expect(rows.find((r) => r.contender === 'fast')?.details).toBe(
      'loop p50 50 µs, max 9.00 ms, requests p50 400 µs, p99 2.50 ms, appends 1990/s of 2000/s, p99 1.50 ms',
    );
  });
});
