import { describe, expect, it } from 'vitest';
import { AppliedRuns, beginRun, extendRun, extendRunTo } from './running-checksum.js';

/** The run of epoch 2 (marker at sequence 5) over messages with these CRCs. */
function runOver(crcs: number[]) {
  let run = beginRun(2, 5);
  for (const [i, crc] of crcs.entries()) run = extendRun(run, 6 + i, crc)!;
  return run;
}

describe('the running checksum of an epoch', () => {
  it('tells apart histories that differ before their last message, and in order', () => {
    const one = runOver([11, 22, 33]);
    expect(one).toMatchObject({ epoch: 2, from: 5, seq: 8 });
    expect(runOver([11, 22, 33]).value).toBe(one.value);
    expect(runOver([11, 99, 33]).value).not.toBe(one.value);
    expect(runOver([22, 11, 33]).value).not.toBe(one.value);
  });

  it('is lost, not guessed, when a sequence is skipped', () => {
    expect(extendRun(beginRun(2, 5), 7, 11)).toBeNull();
    expect(extendRun(null, 6, 11)).toBeNull();
  });

  it('folds the messages a stream was found to hold, in sequence order, up to its end', () => {
    const sent = [
      { seq: 8, crc: 33 },
      { seq: 6, crc: 11 },
      { seq: 7, crc: 22 },
    ];
    expect(extendRunTo(beginRun(2, 5), sent, 8)).toEqual(runOver([11, 22, 33]));
    expect(extendRunTo(beginRun(2, 5), sent, 7)).toEqual(runOver([11, 22]));
    // Already folded up to 7: only 8 is added.
    expect(extendRunTo(runOver([11, 22]), sent, 8)).toEqual(runOver([11, 22, 33]));
    // The stream ends past what was sent: what it holds there is not known.
    expect(extendRunTo(beginRun(2, 5), sent, 9)).toBeNull();
  });
});

describe("a follower's applied running checksums", () => {
  it('match the primary’s for the same messages, from the epoch marker on', () => {
    const runs = new AppliedRuns();
    runs.marker(2, 5);
    for (const [i, crc] of [11, 22, 33].entries()) runs.message(6 + i, crc);
    expect(runs.at(2, 5, 8)).toBe(runOver([11, 22, 33]).value);
    expect(runs.at(2, 5, 7)).toBe(runOver([11, 22]).value);
    expect(runs.at(2, 5, 9)).toBeNull();
    expect(runs.at(3, 5, 8)).toBeNull();
    expect(runs.at(2, 4, 8)).toBeNull();
  });

  it('are unknown until a marker was applied', () => {
    const runs = new AppliedRuns();
    runs.message(6, 11);
    expect(runs.at(2, 5, 6)).toBeNull();
  });

  it('fold on from a redelivered sequence, and are lost after a skipped one', () => {
    const runs = new AppliedRuns();
    runs.marker(2, 5);
    for (const [i, crc] of [11, 22, 33].entries()) runs.message(6 + i, crc);
    runs.message(7, 99);
    runs.message(8, 33);
    expect(runs.at(2, 5, 8)).toBe(runOver([11, 99, 33]).value);
    runs.message(10, 44);
    expect(runs.at(2, 5, 8)).toBeNull();
  });

  it('keep the latest sequences of a long epoch', () => {
    const runs = new AppliedRuns();
    runs.marker(2, 5);
    const crcs = Array.from({ length: 20_000 }, (_, i) => i);
    for (const [i, crc] of crcs.entries()) runs.message(6 + i, crc);
    expect(runs.at(2, 5, 5 + 20_000)).toBe(runOver(crcs).value);
    expect(runs.at(2, 5, 6)).toBeNull();
  });
});
