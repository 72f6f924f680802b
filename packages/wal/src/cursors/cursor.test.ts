import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { CURSOR_FILE_SIZE, crc32c, isWalError, WalErrorCode, type WalRecord } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { RecordingStorageIo, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from '../wal.js';

const root = tempDir('walnut-cursor-');
afterAll(removeTempDirs);
let dirs = 0;
const freshDir = () => join(root, `log-${dirs++}`);

async function appendUpTo(wal: Wal, last: bigint): Promise<void> {
  const payloads = [];
  for (let lsn = wal.lastLsn + 1n; lsn <= last; lsn++) payloads.push(Buffer.from(`record ${lsn}`));
  if (payloads.length > 0) await wal.appendMany(payloads);
}

/** The first `count` records `records()` yields, then stops reading. */
async function take(iterable: AsyncIterable<WalRecord>, count: number): Promise<bigint[]> {
  const lsns: bigint[] = [];
  if (count === 0) return lsns;
  for await (const record of iterable) {
    lsns.push(record.lsn);
    if (lsns.length === count) break;
  }
  return lsns;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('a durable cursor', () => {
  it("commit(lsn, { signal }) stops waiting for its round once aborted: rejects with the signal's reason, the commit goes on", async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const wal = await Wal.open('/log').storageIo(io).build();
    await appendUpTo(wal, 5n);
    const c = await wal.cursor('slow-disk');
    const hold = io.hold(
      (op) => op.path?.includes(`${sep}cursors${sep}`) === true && op.kind === 'fdatasync',
    );
    try {
      const stop = new AbortController();
      const committing = c.commit(3n, { signal: stop.signal });
      for (let i = 0; i < 200 && hold.held === 0; i++) await new Promise((r) => setImmediate(r));
      expect(hold.held).toBeGreaterThan(0);
      stop.abort();
      await expect(committing).rejects.toMatchObject({ name: 'AbortError' });
      hold.release();
      // Aborting stopped the wait, not the write: the round lands, and a new commit shares none of it.
      expect(await c.commit(4n)).toBe(4n);
      expect(c.lsn).toBe(4n);
      await expect(c.commit(4n, { signal: AbortSignal.abort(new Error('gone')) })).rejects.toThrow(
        'gone',
      );
    } finally {
      hold.release();
      await wal.close();
    }
  });

  it("records() rejects with the signal's reason once it is aborted while waiting", async () => {
    const wal = await Wal.open(freshDir()).build();
    await appendUpTo(wal, 2n);
    const c = await wal.cursor('waiting');
    const stop = new AbortController();
    const seen: bigint[] = [];
    const reading = (async () => {
      for await (const record of c.records({ signal: stop.signal })) {
        seen.push(record.lsn);
        if (record.lsn === 2n) setImmediate(() => stop.abort());
      }
    })();
    await expect(reading).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([1n, 2n]);
    await wal.close();
  });

  it('starts at 0n, reads from lsn + 1, and a reopened log finds its last commit', async () => {
    const dir = freshDir();
    let wal = await Wal.open(dir).build();
    await appendUpTo(wal, 10n);
    const c = await wal.cursor('billing');
    expect(c.lsn).toBe(0n);
    expect(await take(c.records(), 4)).toEqual([1n, 2n, 3n, 4n]);
    await c.commit(4n);
    expect(c.lsn).toBe(4n);
    await wal.close();

    wal = await Wal.open(dir).build();
    const again = await wal.cursor('billing');
    expect(again.lsn).toBe(4n);
    expect(await take(again.records(), 6)).toEqual([5n, 6n, 7n, 8n, 9n, 10n]);
    expect(await wal.cursors()).toEqual([{ name: 'billing', lsn: 4n, behind: false, open: true }]);
    await wal.close();
  });

  it('hands out durable records only, whatever the durability mode: each can be committed', async () => {
    for (const mode of ['none', 'flush', 'interval'] as const) {
      const wal = await Wal.open(freshDir()).durability(mode).build();
      await wal.appendMany([Buffer.from('a'), Buffer.from('b')]); // written, maybe not durable
      const c = await wal.cursor('billing');
      const committed: bigint[] = [];
      const consumer = (async () => {
        for await (const r of c.records()) {
          expect(r.lsn).toBeLessThanOrEqual(wal.durableLsn);
          committed.push(await c.commit(r.lsn));
          if (r.lsn === 2n) break;
        }
      })();
      await wal.sync();
      await consumer;
      expect(committed).toEqual([1n, 2n]);
      await wal.close();
    }
  });

  it('refuses durableOnly: false, which would hand out records it cannot commit', async () => {
    const wal = await Wal.open(freshDir()).build();
    await appendUpTo(wal, 1n);
    const c = await wal.cursor('billing');
    const error = await rejection(take(c.records({ durableOnly: false } as never), 1));
    expect(isWalError(error, WalErrorCode.BAD_ARGUMENT)).toBe(true);
    await wal.close();
  });

  it('follows records appended after it caught up', async () => {
    const wal = await Wal.open(freshDir()).build();
    await appendUpTo(wal, 2n);
    const c = await wal.cursor('live');
    const reading = take(c.records(), 5);
    await appendUpTo(wal, 5n);
    expect(await reading).toEqual([1n, 2n, 3n, 4n, 5n]);
    await wal.close();
  });

  it('shares cursor writes between commits that arrive together', async () => {
    const wal = await Wal.open(freshDir()).build();
    await appendUpTo(wal, 200n);
    const consumers = await Promise.all(['a', 'b', 'c', 'd'].map((name) => wal.cursor(name)));
    const before = wal.stats().cursorCommits.rounds;
    await Promise.all(
      consumers.flatMap((c) => Array.from({ length: 50 }, (_, i) => c.commit(BigInt(i + 1)))),
    );
    for (const c of consumers) expect(c.lsn).toBe(50n);
    const rounds = wal.stats().cursorCommits.rounds - before;
    expect(rounds).toBeGreaterThanOrEqual(1);
    expect(rounds).toBeLessThanOrEqual(2);
    await wal.close();
  });

  it('refuses a bad name, an LSN past the durable end, and a second holder', async () => {
    const dir = freshDir();
    const wal = await Wal.open(dir).build();
    await appendUpTo(wal, 3n);
    for (const bad of ['', '../x', 'a.b', 'x'.repeat(65)]) {
      expect(isWalError(await rejection(wal.cursor(bad)), WalErrorCode.BAD_ARGUMENT)).toBe(true);
    }
    const c = await wal.cursor('one');
    expect(await wal.cursor('one')).toBe(c);
    expect(isWalError(await rejection(c.commit(4n)), WalErrorCode.BAD_ARGUMENT)).toBe(true);
    expect(isWalError(await rejection(c.commit(-1n)), WalErrorCode.BAD_ARGUMENT)).toBe(true);
    const reader = await Wal.open(dir).readOnly().build();
    const inUse = await rejection(reader.cursor('one'));
    expect(isWalError(inUse, WalErrorCode.CURSOR_IN_USE)).toBe(true);
    await c.close();
    const taken = await reader.cursor('one');
    await taken.commit(3n);
    expect((await wal.cursors())[0]).toMatchObject({ name: 'one', lsn: 3n, open: false });
    await reader.close();
    await wal.close();
  });

  it('is committed from a read-only Wal without the writer lock, and the writer sees it', async () => {
    const dir = freshDir();
    const wal = await Wal.open(dir).segmentSize(4096).build();
    await appendUpTo(wal, 20n);
    const reader = await Wal.open(dir).readOnly().build();
    const c = await reader.cursor('remote');
    expect(await take(c.records(), 20)).toHaveLength(20);
    await c.commit(20n);
    expect(await wal.cursors()).toEqual([{ name: 'remote', lsn: 20n, behind: false, open: false }]);
    await reader.close();
    await wal.close();
  });

  it('fails with WAL_CURSOR_BEHIND naming the first LSN kept, never reads as caught up', async () => {
    const wal = await Wal.open(freshDir()).segmentSize(4096).build();
    const c = await wal.cursor('slow');
    await appendUpTo(wal, 600n);
    const segments = await wal.segments();
    const cut = segments[2]!.firstLsn;
    await wal.truncateBefore(cut);
    const read = await rejection(take(c.records(), 1));
    expect(isWalError(read, WalErrorCode.CURSOR_BEHIND)).toBe(true);
    expect((read as { details: { lsn: bigint } }).details.lsn).toBe(cut);
    expect((read as Error).message).toContain(`LSN ${cut}`);
    expect(isWalError(await rejection(c.commit(3n)), WalErrorCode.CURSOR_BEHIND)).toBe(true);
    expect((await wal.cursors())[0]!.behind).toBe(true);
    await c.commit(cut - 1n);
    expect(await take(c.records(), 1)).toEqual([cut]);
    await wal.close();
  });

  it('refuses a commit whose next record was deleted, saying where the cursor stays', async () => {
    const wal = await Wal.open(freshDir()).segmentSize(4096).build();
    await appendUpTo(wal, 600n);
    const c = await wal.cursor('slow');
    await c.commit(590n);
    const floor = (await wal.segments())[2]!.firstLsn;
    await wal.truncateBefore(floor);
    const refused = await rejection(c.commit(5n));
    expect(isWalError(refused, WalErrorCode.CURSOR_BEHIND)).toBe(true);
    expect((refused as Error).message).toContain('commit(5n) refused');
    expect((refused as Error).message).toContain('stays at LSN 590');
    expect((refused as { details: object }).details).toMatchObject({
      lsn: floor,
      committedLsn: 590n,
      refusedLsn: 5n,
    });
    expect(c.lsn).toBe(590n);
    await wal.close();
  });

  it('past a truncateAfter cut fails with WAL_TRUNCATED, never reads the new history as its own', async () => {
    const dir = freshDir();
    let wal = await Wal.open(dir).segmentSize(4096).build();
    await appendUpTo(wal, 30n);
    const ahead = await wal.cursor('ahead');
    const below = await wal.cursor('below');
    await ahead.commit(20n);
    await below.commit(8n);
    await wal.truncateAfter(10n);
    await wal.appendMany([Buffer.from('new 11'), Buffer.from('new 12')]);
    await appendUpTo(wal, 40n);
    const error = await rejection(take(ahead.records(), 1));
    expect(isWalError(error, WalErrorCode.TRUNCATED)).toBe(true);
    expect((error as { details: { lsn: bigint } }).details.lsn).toBe(10n);
    expect(await take(below.records(), 3)).toEqual([9n, 10n, 11n]);
    await wal.close();

    // Still refused after a reopen, until its consumer commits a position in both histories.
    wal = await Wal.open(dir).build();
    const again = await wal.cursor('ahead');
    expect(isWalError(await rejection(take(again.records(), 1)), WalErrorCode.TRUNCATED)).toBe(
      true,
    );
    await again.commit(10n);
    const records: string[] = [];
    for await (const record of again.records()) {
      records.push(record.payload.toString());
      if (records.length === 2) break;
    }
    expect(records).toEqual(['new 11', 'new 12']);
    await wal.close();
  });

  it('is gone after deleteCursor, files and lock included', async () => {
    const dir = freshDir();
    const wal = await Wal.open(dir).build();
    await wal.cursor('gone');
    await wal.cursor('kept');
    expect(await wal.deleteCursor('gone')).toBe(true);
    expect(await wal.deleteCursor('gone')).toBe(false);
    expect(readdirSync(join(dir, 'cursors')).filter((f) => f.startsWith('gone'))).toEqual([]);
    expect((await wal.cursors()).map((info) => info.name)).toEqual(['kept']);
    await wal.close();
  });

  it('deletes a cursor it holds by closing that handle first, and refuses one another Wal holds', async () => {
    const dir = freshDir();
    const wal = await Wal.open(dir).build();
    await appendUpTo(wal, 3n);
    const mine = await wal.cursor('mine');
    await mine.commit(2n);
    const reader = await Wal.open(dir).readOnly().build();
    const theirs = await reader.cursor('theirs');
    await theirs.commit(1n);
    expect(await wal.deleteCursor('mine')).toBe(true);
    expect(isWalError(await rejection(mine.commit(3n)), WalErrorCode.CLOSED)).toBe(true);
    const inUse = await rejection(wal.deleteCursor('theirs'));
    expect(isWalError(inUse, WalErrorCode.CURSOR_IN_USE)).toBe(true);
    expect((await wal.cursors()).map((info) => [info.name, info.lsn])).toEqual([['theirs', 1n]]);
    await reader.close();
    expect(await wal.deleteCursor('theirs')).toBe(true);
    await wal.close();
  });

  it('keeps its old position when its write fails, says why, and writes the file whole next', async () => {
    const io = new FaultyStorageIo(new MemoryStorageIo());
    const wal = await Wal.open('/log').storageIo(io).build();
    await appendUpTo(wal, 5n);
    const c = await wal.cursor('c');
    await c.commit(2n);
    io.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    const failed = await rejection(c.commit(4n));
    expect(isWalError(failed, WalErrorCode.IO)).toBe(true);
    expect(c.lsn).toBe(2n);
    // The kernel may still hold the slot whose fdatasync failed: a position its consumer did
    // commit, never one nobody committed.
    expect([2n, 4n]).toContain((await wal.cursors())[0]!.lsn);
    const replaced = wal.stats().cursorCommits.filesReplaced;
    await c.commit(5n);
    expect(wal.stats().cursorCommits.filesReplaced).toBe(replaced + 1);
    expect((await wal.cursors())[0]!.lsn).toBe(5n);
    await wal.close();
  });

  it('is created whole once, then every commit updates it in place: no new name, no rename', async () => {
    const dir = freshDir();
    const wal = await Wal.open(dir).build();
    await appendUpTo(wal, 40n);
    const c = await wal.cursor('inplace');
    const file = join(dir, 'cursors', 'inplace.cursor');
    const inode = statSync(file).ino;
    for (let lsn = 1n; lsn <= 40n; lsn++) await c.commit(lsn);
    expect(statSync(file).ino).toBe(inode);
    expect(statSync(file).size).toBe(CURSOR_FILE_SIZE);
    expect(readdirSync(join(dir, 'cursors')).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect(wal.stats().cursorCommits).toMatchObject({ filesWritten: 41, filesReplaced: 1 });
    await wal.close();
  });

  it("reads a cursor file of the first release's 20-byte layout and rewrites it slotted at its first commit", async () => {
    const dir = freshDir();
    let wal = await Wal.open(dir).build();
    await appendUpTo(wal, 30n);
    await wal.close();
    const old = Buffer.alloc(20);
    old.writeBigUInt64LE(12n, 0);
    old.writeUInt32LE(crc32c(old.subarray(0, 16)), 16);
    mkdirSync(join(dir, 'cursors'));
    writeFileSync(join(dir, 'cursors', 'legacy.cursor'), old);

    wal = await Wal.open(dir).build();
    expect(await wal.cursors()).toEqual([{ name: 'legacy', lsn: 12n, behind: false, open: false }]);
    const c = await wal.cursor('legacy');
    expect(c.lsn).toBe(12n);
    expect(await take(c.records(), 1)).toEqual([13n]);
    await c.commit(13n);
    await c.commit(14n);
    expect(statSync(join(dir, 'cursors', 'legacy.cursor')).size).toBe(CURSOR_FILE_SIZE);
    expect(wal.stats().cursorCommits).toMatchObject({ filesWritten: 2, filesReplaced: 1 });
    await wal.close();

    wal = await Wal.open(dir).readOnly().build();
    expect((await wal.cursors())[0]!.lsn).toBe(14n);
    await wal.close();
  });
});
