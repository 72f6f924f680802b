import { afterEach, describe, expect, it, vi } from 'vitest';
import { ClockReadings } from './clock-readings.js';

afterEach(() => {
  vi.restoreAllMocks();
});

describe('ClockReadings', () => {
  it('shares one reading of Date.now among 16 calls of one synchronous run', () => {
    let t = 1_000;
    const spy = vi.spyOn(Date, 'now').mockImplementation(() => t++);
    const readings = new ClockReadings(Date.now);
    const times = Array.from({ length: 17 }, () => readings.read());
    expect(spy).toHaveBeenCalledTimes(2);
    expect(times).toEqual([...Array(16).fill(1_000), 1_001]);
  });

  it('reads Date.now again in the next job', async () => {
    let t = 1_000;
    vi.spyOn(Date, 'now').mockImplementation(() => t++);
    const readings = new ClockReadings(Date.now);
    expect(readings.read()).toBe(1_000);
    await Promise.resolve();
    expect(readings.read()).toBe(1_001);
  });

  it("reads a caller's own clock every time, and lets it throw", () => {
    let t = 5;
    const readings = new ClockReadings(() => {
      if (t < 0) throw new Error('no time');
      return t;
    });
    expect(readings.read()).toBe(5);
    t = 9;
    expect(readings.read()).toBe(9);
    t = -1;
    expect(() => readings.read()).toThrow('no time');
  });
});
