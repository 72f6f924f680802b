import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRetention, isWalError, WalErrorCode, type WalRecord } from '@walnut/codec';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from '../wal.js';

const root = tempDir('walnut-retention-age-');
afterAll(removeTempDirs);
let dirs = 0;
const freshDir = () => join(root, `log-${dirs++}`);
const SEGMENT = 4096;
const T0 = Date.UTC(2026, 10, 25);
const MINUTE = 60_000;

/** A clock the test moves: no sleeps. */
function testClock() {
  const clock = { now: T0, read: () => clock.now };
  return clock;
}

async function appendRecords(wal: Wal, count: number): Promise<void> {
  await wal.appendMany(Array.from({ length: count }, () => Buffer.alloc(100, 7)));
}

async function allRecords(wal: Wal): Promise<WalRecord[]> {
  const records: WalRecord[] = [];
  await wal.replay(wal.floorLsn, (record: WalRecord) => {
    records.push({ ...record, payload: Buffer.alloc(0) });
  });
  return records;
}

/**
 * What the age rule may delete: the sealed segments below the newest one whose first record
 * is older than the cutoff (every record below that one is older).
 */
async function agedOut(wal: Wal, cutoff: number): Promise<bigint> {
  const times = new Map((await allRecords(wal)).map((r) => [r.lsn, r.time!]));
  let below = wal.floorLsn;
  for (const segment of await wal.segments()) {
    const first = times.get(segment.firstLsn);
    if (first !== undefined && first < cutoff) below = segment.firstLsn;
  }
  return below;
}

describe('retention by age (maxAgeMs)', () => {
  it('deletes a sealed segment once every record in it is older than maxAgeMs by the log clock', async () => {
    const clock = testClock();
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .clock(clock.read)
      .retention({ maxAgeMs: 10 * MINUTE, intervalMs: 1 << 30 })
      .build();
    try {
      for (let minute = 0; minute < 6; minute++) {
        if (minute > 0) clock.now += 5 * MINUTE;
        await appendRecords(wal, 50);
      }
      // Passes ran in the background as segments were sealed, and one may still run: let it
      // end at minute 25, so that none deletes under the reads below or after the clock moves.
      await wal.applyRetention();
      const before = await allRecords(wal);
      // Batches at minutes 0, 5, …, 25; now is minute 30: those before minute 20 are too old.
      clock.now += 5 * MINUTE;
      const cutoff = clock.now - 10 * MINUTE;
      const expectedFloor = await agedOut(wal, cutoff);
      expect(expectedFloor).toBeGreaterThan(1n);
      const report = await wal.applyRetention();
      expect(report.deleted.length).toBeGreaterThan(0);
      expect(report.deleted.every((d) => d.reason === 'maxAgeMs')).toBe(true);
      expect(wal.floorLsn).toBe(expectedFloor);
      for (const record of before) {
        if (record.lsn < wal.floorLsn) expect(record.time!).toBeLessThan(cutoff);
      }
      // Everything kept that was appended within the last 10 minutes.
      const kept = before.filter((r) => r.time! >= cutoff);
      expect(kept[0]!.lsn).toBeGreaterThanOrEqual(wal.floorLsn);
      expect(wal.stats().retention!.maxAgeMs).toBe(10 * MINUTE);
    } finally {
      await wal.close();
    }
  });

  it('deletes nothing until every record is strictly older than maxAgeMs, and never the active segment', async () => {
    const clock = testClock();
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .clock(clock.read)
      .retention({ maxAgeMs: MINUTE, intervalMs: 1 << 30 })
      .build();
    try {
      await appendRecords(wal, 300);
      const count = (await wal.segments()).length;
      expect(count).toBeGreaterThan(2);
      clock.now += MINUTE - 1;
      expect((await wal.applyRetention()).deleted).toEqual([]);
      clock.now += 1;
      expect((await wal.applyRetention()).deleted).toEqual([]);
      clock.now += 1;
      expect((await wal.applyRetention()).deleted).toHaveLength(count - 1);
      const [active] = await wal.segments();
      expect(active!.sealed).toBe(false);
      expect(wal.lastLsn).toBe(300n);
    } finally {
      await wal.close();
    }
  });

  it('lets a cursor within maxCursorLagBytes hold segments back from the age rule', async () => {
    const clock = testClock();
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .clock(clock.read)
      .retention({ maxAgeMs: MINUTE, intervalMs: 1 << 30 })
      .build();
    try {
      const slow = await wal.cursor('slow');
      await appendRecords(wal, 100);
      await slow.commit(40n);
      await appendRecords(wal, 200);
      clock.now += 2 * MINUTE;
      await appendRecords(wal, 1);
      const report = await wal.applyRetention();
      expect(report.heldBy).toBe('slow');
      expect(wal.floorLsn).toBeLessThanOrEqual(41n);
      await slow.commit(wal.durableLsn);
      await wal.applyRetention();
      expect(wal.floorLsn).toBe(await agedOut(wal, clock.now - MINUTE));
      expect(wal.floorLsn).toBeGreaterThan(250n);
    } finally {
      await wal.close();
    }
  });

  it('runs on its timer: segments age out without a new one sealed', async () => {
    const clock = testClock();
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .clock(clock.read)
      .retention({ maxAgeMs: MINUTE, intervalMs: 20 })
      .build();
    try {
      await appendRecords(wal, 300);
      await appendRecords(wal, 1);
      const before = (await wal.segments()).length;
      clock.now += 2 * MINUTE;
      for (let i = 0; i < 200 && (await wal.segments()).length === before; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect((await wal.segments()).length).toBeLessThan(before);
      expect(wal.stats().retention!.lastReport?.deleted[0]?.reason).toBe('maxAgeMs');
    } finally {
      await wal.close();
    }
  });

  it('is enough alone, recorded in RETENTION, and checked when set', async () => {
    const dir = freshDir();
    await (
      await Wal.open(dir)
        .retention({ maxAgeMs: 7 * 24 * 60 * MINUTE })
        .build()
    ).close();
    expect(decodeRetention(readFileSync(join(dir, 'RETENTION')), 'RETENTION')).toEqual({
      maxBytes: null,
      maxSegments: null,
      maxAgeMs: 7 * 24 * 60 * MINUTE,
      maxCursorLagBytes: null,
      intervalMs: 60_000,
      beforeDelete: false,
    });
    for (const bad of [-1, 1.5, '60000', Number.POSITIVE_INFINITY]) {
      let error: unknown;
      try {
        Wal.open(dir).retention({ maxAgeMs: bad as number });
      } catch (err) {
        error = err;
      }
      expect(isWalError(error, WalErrorCode.BAD_ARGUMENT)).toBe(true);
      expect((error as Error).message).toContain('maxAgeMs');
    }
    let error: unknown;
    try {
      Wal.open(dir).retention({ intervalMs: 10 } as never);
    } catch (err) {
      error = err;
    }
    expect((error as Error).message).toContain('maxBytes, maxSegments or maxAgeMs');
  });
});
