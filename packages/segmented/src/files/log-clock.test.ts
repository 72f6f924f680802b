import { afterEach, describe, expect, it, vi } from 'vitest';
import { LogClock } from './log-clock.js';

afterEach(() => {
  vi.restoreAllMocks();
});

/** Date.now as a spy that counts its readings, each one ms after the one before. */
function countedWallClock(start: number): { readings: () => number } {
  let t = start;
  const spy = vi.spyOn(Date, 'now').mockImplementation(() => t++);
  return { readings: () => spy.mock.calls.length };
}

describe('LogClock', () => {
  it('shares one reading of the wall clock among 16 stamps of one synchronous run', () => {
    const wall = countedWallClock(1_000);
    const clock = new LogClock(Date.now, 1n, 0);
    const times = Array.from({ length: 33 }, () => clock.now());
    expect(wall.readings()).toBe(3);
    expect(times.slice(0, 16)).toEqual(Array(16).fill(1_000));
    expect(times.slice(16, 32)).toEqual(Array(16).fill(1_001));
    expect(times[32]).toBe(1_002);
  });

  it('reads the wall clock again once the run ends', async () => {
    const wall = countedWallClock(1_000);
    const clock = new LogClock(Date.now, 1n, 0);
    expect(clock.now()).toBe(1_000);
    await Promise.resolve();
    expect(clock.now()).toBe(1_001);
    expect(wall.readings()).toBe(2);
  });

  it("reads a caller's own clock on every stamp", () => {
    let t = 5_000;
    const clock = new LogClock(() => t, 1n, 0);
    expect(clock.now()).toBe(5_000);
    t = 9_000;
    expect(clock.now()).toBe(9_000);
  });

  it('never goes back, shared or not', () => {
    countedWallClock(1_000);
    const clock = new LogClock(Date.now, 1n, 2_000);
    expect(clock.now()).toBe(2_000);
    expect(clock.nowOrLast()).toBe(2_000);
    expect(clock.now()).toBe(2_000);
  });
});
