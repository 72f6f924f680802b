import { readdirSync } from 'node:fs';
import { WalErrorCode, type WalRecord } from '@walnut/codec';
import { MemoryStorageIo, SyncFsStorageIo } from '@walnut/storage-io';
import {
  expectWalError,
  RecordingStorageIo,
  removeTempDirs,
  tempDir,
} from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Batch } from './batch.js';
import { Wal } from './wal.js';

afterEach(removeTempDirs);

/** Payloads say which history they belong to. */
const old = (i: number) => Buffer.from(`old-${i}-${'o'.repeat(200)}`);
const fresh = (i: number) => Buffer.from(`new-${i}`);
const text = (r: WalRecord) => `${r.lsn}:${r.payload.toString().split('-').slice(0, 2).join('-')}`;

/** `count` records in 4 KiB segments (most of them sealed), or all in the segment being written. */
async function logOf(count: number, dir = tempDir(), segments: 'small' | 'one segment' = 'small') {
  const builder = Wal.open(dir).storageIo('sync-fs');
  const wal = await (segments === 'small' ? builder.segmentSize(4096) : builder);
  for (let i = 1; i <= count; i++) await wal.append(old(i));
  return wal;
}

async function all(wal: Wal): Promise<string[]> {
  const out: string[] = [];
  for await (const r of wal.iterator(1n)) out.push(text(r));
  return out;
}

/** Cuts `wal` after LSN `after`, then appends new records up to LSN `last`. */
async function cutThenAppend(wal: Wal, after: number, last: number): Promise<void> {
  await wal.truncateAfter(BigInt(after));
  for (let i = after + 1; i <= last; i++) await wal.append(fresh(i));
}

describe('Wal.truncateAfter', () => {
  it('cuts durably: the next append gets lsn + 1, and a reopened log holds the new history', async () => {
    const dir = tempDir();
    const wal = await logOf(40, dir);
    const result = await wal.truncateAfter(7n);
    expect(result).toMatchObject({ afterLsn: 7n, recordsRemoved: 33n });
    expect(result.segmentsDeleted).toBeGreaterThan(0);
    expect(wal.lastLsn).toBe(7n);
    expect(wal.durableLsn).toBe(7n);
    expect(await wal.append(fresh(8))).toBe(8n);
    await wal.close();
    const again = await Wal.open(dir).storageIo('sync-fs');
    const got = await all(again);
    expect(got.length).toBe(8);
    expect(got.slice(6)).toEqual(['7:old-7', '8:new-8']);
    await again.close();
  });

  it('appends made before it resolve first; appends while it runs are refused and the log is not poisoned', async () => {
    const wal = await logOf(10);
    const before = [wal.append(old(11)), wal.append(old(12))];
    const cutting = wal.truncateAfter(5n);
    expect(await expectWalError(wal.append(fresh(6)), WalErrorCode.BAD_STATE)).toMatchObject({
      message: expect.stringContaining('while truncateAfter runs'),
    });
    expect(await Promise.all(before)).toEqual([11n, 12n]);
    expect((await cutting).recordsRemoved).toBe(7n);
    await expectWalError(wal.truncateAfter(9n), WalErrorCode.BAD_ARGUMENT);
    expect(await wal.append(fresh(6))).toBe(6n);
    expect(wal.stats().state).toBe('running');
    await wal.close();
  });

  it('refuses a cut inside an atomic batch without harm, and below the floor', async () => {
    const wal = await logOf(3);
    const batch = new Batch();
    for (let i = 4; i <= 6; i++) batch.add(old(i));
    await wal.appendBatch(batch);
    expect(await expectWalError(wal.truncateAfter(4n), WalErrorCode.BAD_ARGUMENT)).toMatchObject({
      message: expect.stringContaining('atomic batch of LSNs 4..6'),
    });
    expect(await wal.append(old(7))).toBe(7n);
    await wal.close();
  });

  it('an iterator that handed out records above the cut fails with WAL_TRUNCATED, never reading on in the new history', async () => {
    const wal = await logOf(60);
    const iter = wal.iterator(1n);
    for (let i = 1n; i <= 30n; i++) expect((await iter.next()).value.lsn).toBe(i);
    await cutThenAppend(wal, 10, 70);
    const seen: string[] = [];
    const reading = (async () => {
      for (;;) {
        const step = await iter.next();
        if (step.done) return;
        seen.push(text(step.value));
      }
    })();
    const error = await expectWalError(reading, WalErrorCode.TRUNCATED);
    expect(error).toMatchObject({ details: { lsn: 10n } });
    // Its next step fails: not one more record of the segment it was reading.
    expect(seen).toEqual([]);
    await wal.close();
  });

  it('an iterator reading the segment being written fails at its very next step after a cut below what it handed out', async () => {
    const wal = await logOf(30, tempDir(), 'one segment');
    const iter = wal.iterator(20n);
    for (let i = 20n; i <= 27n; i++) expect((await iter.next()).value.lsn).toBe(i);
    await wal.truncateAfter(25n);
    await wal.append(fresh(26));
    expect(await expectWalError(iter.next(), WalErrorCode.TRUNCATED)).toMatchObject({
      details: { lsn: 25n },
    });
    await wal.close();
  });

  it('an iterator that handed out only records below the cut reads on in the new history', async () => {
    const wal = await logOf(30, tempDir(), 'one segment');
    const iter = wal.iterator(1n);
    for (let i = 1n; i <= 5n; i++) expect((await iter.next()).value.lsn).toBe(i);
    await cutThenAppend(wal, 7, 9);
    const rest: string[] = [];
    for (let step = await iter.next(); !step.done; step = await iter.next())
      rest.push(text(step.value));
    expect(rest).toEqual(['6:old-6', '7:old-7', '8:new-8', '9:new-9']);
    await wal.close();
  });

  it('a tail that yielded LSN 10 when the log is cut after 7 and appended to again fails, and never yields the new 8', async () => {
    const wal = await logOf(10);
    const tail = wal.tail(1n);
    for (let i = 1n; i <= 10n; i++) expect((await tail.next()).value.lsn).toBe(i);
    const next = expectWalError(tail.next(), WalErrorCode.TRUNCATED);
    await cutThenAppend(wal, 7, 12);
    expect(await next).toMatchObject({ details: { lsn: 7n } });
    await wal.close();
  });

  it('a reader that had read only below the cut goes on in one history, old or new, never both', async () => {
    const wal = await logOf(20);
    const tail = wal.tail(1n);
    for (let i = 1n; i <= 5n; i++) expect((await tail.next()).value.lsn).toBe(i);
    await cutThenAppend(wal, 7, 12);
    const seen: string[] = [];
    const error = await (async () => {
      while (seen.length < 7) seen.push(text((await tail.next()).value));
      return null;
    })().catch((err: unknown) => err);
    const above = seen.filter((s) => Number(s.split(':')[0]) > 7);
    const histories = new Set(above.map((s) => s.split(':')[1]!.split('-')[0]));
    expect(histories.size).toBeLessThanOrEqual(1);
    if (error === null) expect(seen.slice(0, 2)).toEqual(['6:old-6', '7:old-7']);
    else {
      expectWalError(() => {
        throw error;
      }, WalErrorCode.TRUNCATED);
    }
    await wal.close();
  });

  it('a tail that had read only below the cut reads the new history on, and follows it after', async () => {
    const wal = await logOf(20);
    const tail = wal.tail(1n);
    for (let i = 1n; i <= 5n; i++) expect((await tail.next()).value.lsn).toBe(i);
    await cutThenAppend(wal, 7, 12);
    const seen: string[] = [];
    for (let i = 6; i <= 12; i++) seen.push(text((await tail.next()).value));
    expect(seen).toEqual([
      '6:old-6',
      '7:old-7',
      '8:new-8',
      '9:new-9',
      '10:new-10',
      '11:new-11',
      '12:new-12',
    ]);
    // Caught up in the new history, it follows it: the cut is behind it.
    const next = tail.next();
    await wal.append(fresh(13));
    expect(text((await next).value)).toBe('13:new-13');
    await wal.close();
  });

  it('a cursor that read on past a cut below its position keeps its commits in the new history', async () => {
    const dir = tempDir();
    const wal = await logOf(20, dir);
    const c = await wal.cursor('projection');
    const records = c.records();
    for (let i = 1n; i <= 5n; i++) await c.commit((await records.next()).value.lsn);
    await cutThenAppend(wal, 7, 12);
    for (let i = 6; i <= 12; i++) await c.commit((await records.next()).value.lsn);
    await records.return?.();
    // A new read, in this Wal and after a reopen, goes on after the commit in the new history.
    await wal.append(fresh(13));
    const again = c.records();
    expect(text((await again.next()).value)).toBe('13:new-13');
    await again.return?.();
    await wal.close();
    const reopened = await Wal.open(dir).storageIo('sync-fs');
    const cursor = await reopened.cursor('projection');
    expect(cursor.lsn).toBe(12n);
    const read = cursor.records();
    expect(text((await read.next()).value)).toBe('13:new-13');
    await read.return?.();
    await reopened.close();
  });

  it("a read-only Wal's tail that yielded records the writer cut fails with WAL_TRUNCATED", async () => {
    const dir = tempDir();
    const wal = await logOf(10, dir);
    const reader = await Wal.open(dir).readOnly().storageIo('sync-fs');
    const tail = reader.tail(1n);
    for (let i = 1n; i <= 10n; i++) expect((await tail.next()).value.lsn).toBe(i);
    const next = expectWalError(tail.next(), WalErrorCode.TRUNCATED);
    await cutThenAppend(wal, 7, 12);
    expect(await next).toMatchObject({ details: { lsn: 7n } });
    await reader.close();
    await wal.close();
  });

  it("a read-only Wal that read nothing above the cut reads the writer's new history", async () => {
    const dir = tempDir();
    const wal = await logOf(20, dir);
    const reader = await Wal.open(dir).readOnly().storageIo('sync-fs');
    const tail = reader.tail(1n);
    for (let i = 1n; i <= 5n; i++) expect((await tail.next()).value.lsn).toBe(i);
    await cutThenAppend(wal, 7, 10);
    const seen: string[] = [];
    await reader.replay(1n, (r) => {
      seen.push(text(r));
    });
    expect(seen.slice(6)).toEqual(['7:old-7', '8:new-8', '9:new-9', '10:new-10']);
    const read: string[] = [];
    for (let i = 6; i <= 10; i++) read.push(text((await tail.next()).value));
    expect(read).toEqual(['6:old-6', '7:old-7', '8:new-8', '9:new-9', '10:new-10']);
    await tail.return?.();
    await reader.close();
    await wal.close();
  });

  it('is refused on a read-only Wal and a closed one', async () => {
    const dir = tempDir();
    const wal = await logOf(5, dir);
    const reader = await Wal.open(dir).readOnly().storageIo('sync-fs');
    await expectWalError(reader.truncateAfter(2n), WalErrorCode.READ_ONLY);
    await reader.close();
    await wal.close();
    await expectWalError(wal.truncateAfter(2n), WalErrorCode.CLOSED);
  });
});

describe('Wal.truncateAfter beside close() and shutdown()', () => {
  it.each(['close', 'shutdown'] as const)(
    '%s() while the cut runs lets it finish first: it resolves, and the log reopens cut, nothing pending',
    async (ending) => {
      const dir = tempDir();
      const io = new RecordingStorageIo(new SyncFsStorageIo());
      const wal = await Wal.open(dir).storageIo(io).segmentSize(4096).build();
      for (let i = 1; i <= 100; i++) await wal.append(old(i));
      const hold = io.hold((op) => op.kind === 'unlink');
      const cut = wal.truncateAfter(10n);
      for (let i = 0; i < 200 && hold.held === 0; i++) await new Promise((r) => setImmediate(r));
      expect(hold.held).toBeGreaterThan(0);
      const ended = ending === 'close' ? wal.close() : wal.shutdown();
      const order: string[] = [];
      void cut.then(() => order.push('cut'));
      void ended.then(() => order.push(ending));
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
      hold.release();
      expect((await cut).afterLsn).toBe(10n);
      await ended;
      expect(order).toEqual(['cut', ending]);
      expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
      const again = await Wal.open(dir).storageIo('sync-fs').build();
      expect(again.lastLsn).toBe(10n);
      expect(again.recovery.finishedCut).toBeNull();
      await again.close();
    },
  );
});

describe('a tail reading while truncateAfter cuts under it', () => {
  it('that had handed out nothing above the cut reads on in the new history, never told of a deleted segment', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await Wal.open('/log').storageIo(io).segmentSize(4096).build();
    for (let i = 1; i <= 300; i++) await wal.append(old(i));
    const [first, second] = await wal.segments();
    // The tail's first read waits while the cut deletes every segment after the first.
    const hold = io.hold((op) => op.kind === 'read' && op.path === first!.path);
    const seen: string[] = [];
    const tailing = (async () => {
      for await (const r of wal.tail(1n)) {
        seen.push(text(r));
        if (r.lsn === second!.firstLsn + 5n) break;
      }
    })();
    for (let i = 0; i < 200 && hold.held === 0; i++) await new Promise((r) => setImmediate(r));
    expect(hold.held).toBeGreaterThan(0);
    const cutAfter = second!.firstLsn - 5n;
    const cut = wal.truncateAfter(cutAfter);
    for (let i = 0; i < 50; i++) await new Promise((r) => setImmediate(r));
    hold.release();
    await cut;
    for (let i = Number(cutAfter) + 1; i <= Number(second!.firstLsn) + 5; i++)
      await wal.append(fresh(i));
    await tailing;
    expect(seen).toEqual(
      Array.from({ length: Number(second!.firstLsn) + 5 }, (_, i) =>
        i < Number(cutAfter) ? `${i + 1}:old-${i + 1}` : `${i + 1}:new-${i + 1}`,
      ),
    );
    await wal.close();
  });
});
