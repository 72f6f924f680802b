import { afterEach, describe, expect, it, vi } from 'vitest';
import { READ_SLICE_MS, RECORDS_PER_LOOK, ReadSlices } from './read-slices.js';

let now = 1_000;
afterEach(() => vi.restoreAllMocks());
function fakeClock(): void {
  vi.spyOn(performance, 'now').mockImplementation(() => now);
}

describe('ReadSlices', () => {
  it('looks at the clock once per RECORDS_PER_LOOK records, and is spent after READ_SLICE_MS', () => {
    fakeClock();
    const slices = new ReadSlices();
    const clock = vi.mocked(performance.now);
    clock.mockClear();
    now += READ_SLICE_MS;
    const spentAt: number[] = [];
    for (let record = 1; record <= 3 * RECORDS_PER_LOOK; record++) {
      if (slices.handedOut()) spentAt.push(record);
    }
    expect(spentAt).toEqual([RECORDS_PER_LOOK, 2 * RECORDS_PER_LOOK, 3 * RECORDS_PER_LOOK]);
    expect(clock).toHaveBeenCalledTimes(3);
  });

  it('is not spent before READ_SLICE_MS, however many records were handed out', () => {
    fakeClock();
    const slices = new ReadSlices();
    now += READ_SLICE_MS - 1;
    for (let record = 0; record < 10 * RECORDS_PER_LOOK; record++) {
      expect(slices.handedOut()).toBe(false);
    }
    expect(slices.spent()).toBe(false);
  });

  it('pauses for one turn of the event loop, then starts a new slice', async () => {
    fakeClock();
    const slices = new ReadSlices();
    now += READ_SLICE_MS;
    expect(slices.spent()).toBe(true);
    let turned = false;
    setImmediate(() => {
      turned = true;
    });
    await slices.pause();
    expect(turned).toBe(true);
    expect(slices.spent()).toBe(false);
    now += READ_SLICE_MS;
    expect(slices.spent()).toBe(true);
  });
});
