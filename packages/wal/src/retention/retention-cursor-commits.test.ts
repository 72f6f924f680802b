import { sep } from 'node:path';
import { FLOOR_FILE, WalErrorCode } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import {
  expectWalError,
  type Hold,
  type RecordedOp,
  RecordingStorageIo,
} from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import type { Cursor } from '../cursors/cursor.js';
import { Wal } from '../wal.js';

const SEGMENT = 4096;
const opened: Wal[] = [];
const holds: Hold[] = [];
afterEach(async () => {
  // A failed expectation leaves its hold on: release it, or closing the log waits forever.
  for (const hold of holds.splice(0)) hold.release();
  await Promise.all(opened.splice(0).map((wal) => wal.close().catch(() => undefined)));
});

/**
 * A log of 400 records over about ten 4 KiB segments, kept to two by retention, and a cursor
 * that has read them all. The cursor holds every segment while they are appended, and its
 * commit comes after the passes the seals started: from then on, only `applyRetention()`
 * runs one (the timer is an hour).
 */
async function logReadToTheEnd(beforeDelete?: () => Promise<void>) {
  const io = new RecordingStorageIo(new MemoryStorageIo());
  const wal = await Wal.open('/log')
    .storageIo(io)
    .segmentSize(SEGMENT)
    .retention({
      maxSegments: 2,
      intervalMs: 3_600_000,
      ...(beforeDelete ? { beforeDelete } : {}),
    })
    .build();
  opened.push(wal);
  const cursor = await wal.cursor('c');
  await wal.appendMany(Array.from({ length: 400 }, () => Buffer.alloc(100, 7)));
  const held = await wal.applyRetention();
  expect(held.heldBy).toBe('c');
  await cursor.commit(wal.durableLsn);
  return { io, wal, cursor };
}

function holdOps(io: RecordingStorageIo, match: (op: RecordedOp) => boolean): Hold {
  const hold = io.hold(match);
  holds.push(hold);
  return hold;
}

/** Until `hold` holds an operation back (a bounded number of turns of the event loop). */
async function untilHeld(hold: Hold): Promise<void> {
  for (let i = 0; i < 200 && hold.held === 0; i++) await new Promise((r) => setImmediate(r));
  expect(hold.held).toBeGreaterThan(0);
}

async function firstLsnOf(cursor: Cursor): Promise<bigint> {
  for await (const record of cursor.records()) return record.lsn;
  throw new Error('no record');
}

describe("retention and this process's cursor commits", () => {
  it('keeps the records after a commit that goes backwards and is not durable yet', async () => {
    const { io, wal, cursor } = await logReadToTheEnd();
    // The first commit's write is on disk, its completion held; the second waits for the
    // next round, so the cursor file still says 300 when retention reads it.
    const hold = holdOps(
      io,
      (op) =>
        op.path?.includes(`${sep}cursors${sep}`) === true &&
        (op.kind === 'write' || op.kind === 'fdatasync'),
    );
    const ahead = cursor.commit(300n);
    await untilHeld(hold);
    const back = cursor.commit(5n);
    const report = await wal.applyRetention();
    expect(report.deleted).toEqual([]);
    expect(report.heldBy).toBe('c');
    hold.release();
    await ahead;
    expect(await back).toBe(5n);
    expect(await firstLsnOf(cursor)).toBe(6n);
  });

  it('plans again after beforeDelete: a commit made while the hooks ran holds what it has yet to read', async () => {
    let cursor: Cursor | undefined;
    let committed = false;
    const log = await logReadToTheEnd(async () => {
      if (committed || cursor === undefined) return;
      committed = true;
      await cursor.commit(5n);
    });
    cursor = log.cursor;
    const report = await log.wal.applyRetention();
    expect(committed).toBe(true);
    expect(report.deleted).toEqual([]);
    expect(await firstLsnOf(cursor)).toBe(6n);
  });

  it('refuses a commit below what a running pass deletes, as one below the floor', async () => {
    const { io, wal, cursor } = await logReadToTheEnd();
    // Held before the new floor is recorded, when the log's own floor has not moved yet.
    const hold = holdOps(io, (op) => op.kind === 'rename' && op.to?.endsWith(FLOOR_FILE) === true);
    const pass = wal.applyRetention();
    await untilHeld(hold);
    const firstKept = (await wal.segments()).at(-2)!.firstLsn;
    const refused = await expectWalError(cursor.commit(5n), WalErrorCode.CURSOR_BEHIND);
    expect(refused.details).toMatchObject({ lsn: firstKept });
    hold.release();
    const report = await pass;
    expect(report.deleted.length).toBeGreaterThan(0);
    expect(wal.floorLsn).toBe(firstKept);
    expect(cursor.lsn).toBe(wal.durableLsn);
  });
});

describe('retention and a cursor past a suffix cut', () => {
  it('holds the records after the cut for a cursor committed above it, which reads on from there', async () => {
    const { wal, cursor } = await logReadToTheEnd();
    const cut = wal.floorLsn + 5n;
    await wal.truncateAfter(cut);
    await wal.appendMany(Array.from({ length: 400 }, () => Buffer.alloc(100, 8)));
    await wal.applyRetention();
    // Its position (400, in the old history) is above the cut: the new records after the cut
    // are ones its consumer never read.
    expect(wal.floorLsn).toBeLessThanOrEqual(cut + 1n);
    await expectWalError(firstLsnOf(cursor), WalErrorCode.TRUNCATED);
    await cursor.commit(cut);
    expect(await firstLsnOf(cursor)).toBe(cut + 1n);
  });

  it('holds everything left for a cursor two cuts behind, whose lower cut is not recorded', async () => {
    const { wal, cursor } = await logReadToTheEnd();
    const firstCut = wal.floorLsn + 5n;
    await wal.truncateAfter(firstCut);
    await wal.appendMany(Array.from({ length: 100 }, () => Buffer.alloc(100, 8)));
    await wal.truncateAfter(wal.lastLsn - 10n);
    const floor = wal.floorLsn;
    await wal.appendMany(Array.from({ length: 400 }, () => Buffer.alloc(100, 9)));
    await wal.applyRetention();
    expect(wal.floorLsn).toBe(floor);
    await expectWalError(firstLsnOf(cursor), WalErrorCode.TRUNCATED);
  });
});
