import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from './latency-histogram.js';

describe('LatencyHistogram', () => {
  it('reports 0 when nothing was recorded', () => {
    expect(new LatencyHistogram().percentile(0.99)).toBe(0);
  });

  it('gives percentiles within the bucket precision', () => {
    const histogram = new LatencyHistogram();
    for (let micros = 1; micros <= 10_000; micros++) histogram.record(micros);
    const p50 = histogram.percentile(0.5);
    const p99 = histogram.percentile(0.99);
    expect(p50).toBeGreaterThanOrEqual(5_000);
    expect(p50).toBeLessThanOrEqual(5_000 * 1.07);
    expect(p99).toBeGreaterThanOrEqual(9_900);
    expect(p99).toBeLessThanOrEqual(9_900 * 1.07);
    expect(histogram.count).toBe(10_000);
  });

  it('is exact for small values', () => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < 10; i++) histogram.record(3.4);
    expect(histogram.percentile(0.5)).toBe(4);
  });

  it('keeps every duration within ~6% of its bucket bound, from 1 µs to hours', () => {
    for (let micros = 1; micros < 2 ** 36; micros = micros * 1.37 + 1) {
      const histogram = new LatencyHistogram();
      histogram.record(micros);
      const bound = histogram.percentile(1);
      expect(bound).toBeGreaterThan(Math.floor(micros));
      expect(bound).toBeLessThanOrEqual(Math.max(Math.floor(micros) + 1, micros * 1.07));
    }
  });
});
