import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeRetention, isWalError, WalErrorCode } from '@walnut/codec';
import type { SegmentInfo } from '@walnut/segmented';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from '../wal.js';
import type { RetentionReport } from './retention.js';

const root = tempDir('walnut-retention-');
afterAll(removeTempDirs);
let dirs = 0;
const freshDir = () => join(root, `log-${dirs++}`);
const SEGMENT = 4096;

async function appendRecords(wal: Wal, count: number): Promise<void> {
  await wal.appendMany(Array.from({ length: count }, () => Buffer.alloc(100, 7)));
}

const diskBytes = async (wal: Wal) =>
  (await wal.segments()).reduce((sum, segment) => sum + segment.sizeBytes, 0);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('retention', () => {
  it('deletes the oldest sealed segments past maxBytes, and says what and why', async () => {
    const events: unknown[] = [];
    const listen = (message: unknown) => events.push(message);
    subscribe('walnut:wal:retention', listen);
    const dir = freshDir();
    const wal = await Wal.open(dir)
      .segmentSize(SEGMENT)
      .retention({ maxBytes: 5 * SEGMENT })
      .build();
    try {
      await appendRecords(wal, 400);
      // Passes follow the seals by themselves; this one runs after them.
      await wal.applyRetention();
      const deleted = (events as RetentionReport[]).flatMap((event) => event.deleted);
      expect(deleted.length).toBeGreaterThan(0);
      expect(deleted[0]!.firstLsn).toBe(1n);
      for (let i = 1; i < deleted.length; i++) {
        expect(deleted[i]!.firstLsn).toBe(deleted[i - 1]!.lastLsn! + 1n);
      }
      expect(deleted.every((d) => d.reason === 'maxBytes')).toBe(true);
      expect(await diskBytes(wal)).toBeLessThanOrEqual(5 * SEGMENT);
      expect(wal.floorLsn).toBe(deleted.at(-1)!.lastLsn! + 1n);
      expect(wal.floorLsn).toBe((await wal.segments())[0]!.firstLsn);
      const stats = wal.stats().retention!;
      expect(stats.maxBytes).toBe(5 * SEGMENT);
      expect(stats.segmentsDeleted).toBe(deleted.length);
      expect(events).toContainEqual(
        expect.objectContaining({ dir, deleted: stats.lastReport!.deleted }),
      );
      expect(JSON.parse(JSON.stringify(wal.stats())).retention.segmentsDeleted).toBe(
        stats.segmentsDeleted,
      );
    } finally {
      unsubscribe('walnut:wal:retention', listen);
      await wal.close();
    }
  });

  it('hands out reports and cursors JSON.stringify writes, LSNs as decimal strings', async () => {
    const events: unknown[] = [];
    const listen = (message: unknown) => events.push(message);
    subscribe('walnut:wal:retention', listen);
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .retention({ maxBytes: 5 * SEGMENT })
      .build();
    const sent = (value: unknown) => JSON.parse(JSON.stringify(value));
    try {
      await appendRecords(wal, 400);
      const cursor = await wal.cursor('reader');
      await cursor.commit(wal.lastLsn);
      await wal.applyRetention();
      const report = wal.stats().retention!.lastReport!;
      const first = report.deleted[0]!;
      expect(sent(report).deleted[0]).toMatchObject({
        firstLsn: String(first.firstLsn),
        lastLsn: String(first.lastLsn),
      });
      expect(sent(events.at(-1)).deleted[0]).toMatchObject({ firstLsn: String(first.firstLsn) });
      expect(sent(await wal.cursors())).toEqual([
        { name: 'reader', lsn: String(wal.lastLsn), behind: false, open: true },
      ]);
    } finally {
      unsubscribe('walnut:wal:retention', listen);
      await wal.close();
    }
  });

  it('runs by itself as segments are sealed, off the append path', async () => {
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .retention({ maxSegments: 3 })
      .build();
    for (let i = 0; i < 20; i++) await appendRecords(wal, 20);
    for (let i = 0; i < 200 && (await wal.segments()).length > 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await wal.segments()).length).toBeLessThanOrEqual(4);
    expect(wal.stats().retention!.passes).toBeGreaterThan(0);
    await wal.close();
  });

  it('runs on its timer too: a cursor moving on frees segments without a new one sealed', async () => {
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .retention({ maxSegments: 2, intervalMs: 20 })
      .build();
    const c = await wal.cursor('holder');
    await appendRecords(wal, 300);
    await wal.applyRetention();
    const held = (await wal.segments()).length;
    expect(held).toBeGreaterThan(2);
    await c.commit(wal.durableLsn);
    for (let i = 0; i < 200 && (await wal.segments()).length > 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(await wal.segments()).toHaveLength(2);
    await wal.close();
  });

  it('never deletes what a cursor within maxCursorLagBytes has yet to read, its own process or another', async () => {
    const dir = freshDir();
    const wal = await Wal.open(dir)
      .segmentSize(SEGMENT)
      .retention({ maxBytes: 2 * SEGMENT, maxCursorLagBytes: 1 << 20, intervalMs: 1 << 30 })
      .build();
    await appendRecords(wal, 50);
    const reader = await Wal.open(dir).readOnly().build();
    const remote = await reader.cursor('remote');
    await remote.commit(30n);
    await appendRecords(wal, 400);
    const report = await wal.applyRetention();
    expect(report.heldBy).toBe('remote');
    expect(wal.floorLsn).toBeLessThanOrEqual(31n);
    const lsns: bigint[] = [];
    for await (const record of remote.records()) {
      lsns.push(record.lsn);
      if (record.lsn === 450n) break;
    }
    expect(lsns[0]).toBe(31n);
    expect(lsns).toHaveLength(420);
    await remote.commit(450n);
    await wal.applyRetention();
    expect(await diskBytes(wal)).toBeLessThanOrEqual(3 * SEGMENT);
    await reader.close();
    await wal.close();
  });

  it('passes a cursor that lags more than maxCursorLagBytes, which then fails with WAL_CURSOR_BEHIND', async () => {
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .retention({ maxBytes: 2 * SEGMENT, maxCursorLagBytes: 4 * SEGMENT, intervalMs: 1 << 30 })
      .build();
    const slow = await wal.cursor('slow');
    await appendRecords(wal, 400);
    await wal.applyRetention();
    // The passes that followed the seals passed it; each that deletes says so.
    expect(wal.stats().retention!.lastReport!.cursorsPassed).toEqual(['slow']);
    const error = await rejection(slow.records().next());
    expect(isWalError(error, WalErrorCode.CURSOR_BEHIND)).toBe(true);
    expect((error as { details: { lsn: bigint } }).details.lsn).toBe(wal.floorLsn);
    expect(isWalError(await rejection(slow.commit(1n)), WalErrorCode.CURSOR_BEHIND)).toBe(true);
    await wal.close();
  });

  it('awaits beforeDelete for each segment, and a failing hook keeps that segment and the rest', async () => {
    const archived: SegmentInfo[] = [];
    let failAt = 3;
    const wal = await Wal.open(freshDir())
      .segmentSize(SEGMENT)
      .retention({
        maxSegments: 1,
        intervalMs: 1 << 30,
        beforeDelete: async (segment) => {
          await new Promise((resolve) => setTimeout(resolve, 1));
          if (archived.length === failAt) throw new Error('archive is full');
          archived.push(segment);
        },
      })
      .build();
    await appendRecords(wal, 400);
    await wal.applyRetention().catch(() => undefined);
    const report: RetentionReport = await wal.applyRetention();
    expect(report.deleted).toEqual([]);
    expect(report.hookFailed?.path).toBe((await wal.segments())[0]!.path);
    expect(String(report.hookFailed?.error)).toContain('archive is full');
    expect(archived).toHaveLength(3);
    expect(wal.floorLsn).toBe((await wal.segments())[0]!.firstLsn);
    expect(wal.stats().retention!.hookFailures).toBeGreaterThanOrEqual(1);
    failAt = -1;
    await wal.applyRetention();
    expect(await wal.segments()).toHaveLength(1);
    await wal.close();
  });

  it('records its settings in RETENTION for walnut inspect, and a writer without retention removes them', async () => {
    const dir = freshDir();
    const hook = async () => undefined;
    await (
      await Wal.open(dir)
        .retention({ maxBytes: 1 << 20, beforeDelete: hook })
        .build()
    ).close();
    expect(decodeRetention(readFileSync(join(dir, 'RETENTION')), 'RETENTION')).toEqual({
      maxBytes: 1 << 20,
      maxSegments: null,
      maxAgeMs: null,
      maxCursorLagBytes: null,
      intervalMs: 60_000,
      beforeDelete: true,
    });
    await (await Wal.open(dir).readOnly().build()).close();
    expect(existsSync(join(dir, 'RETENTION'))).toBe(true);
    await (await Wal.open(dir).build()).close();
    expect(existsSync(join(dir, 'RETENTION'))).toBe(false);
  });

  it('is refused on a read-only Wal and checked when set', async () => {
    const dir = freshDir();
    await (await Wal.open(dir).build()).close();
    await expect(Wal.open(dir).readOnly().retention({ maxBytes: 1 }).build()).rejects.toThrow(
      /retention/,
    );
    for (const bad of [{}, { maxBytes: -1 }, { maxBytes: 1, beforeDelete: 3 }, { maxByte: 1 }]) {
      let error: unknown;
      try {
        Wal.open(dir).retention(bad as never);
      } catch (err) {
        error = err;
      }
      expect(isWalError(error, WalErrorCode.BAD_ARGUMENT)).toBe(true);
    }
  });
});
