import { type CoreEntry, WalErrorCode } from '@walnut/codec';
import {
  FaultyStorageIo,
  type IoCompletion,
  MemoryStorageIo,
  type StorageIo,
} from '@walnut/storage-io';
import { expectWalError, RecordingStorageIo } from '@walnut/storage-io/testing';
import { beforeEach, describe, expect, it } from 'vitest';
import { PerCoreWalReader } from '../read/reader.js';
import { CoreWalWriter } from './core-wal-writer.js';

const DIR = '/wal';
const PATH = `${DIR}/wal-3.log`;
const bytes = (text: string) => Buffer.from(text);

let io: MemoryStorageIo;

beforeEach(async () => {
  io = new MemoryStorageIo();
  await io.mkdir(DIR);
});

async function readEntries(path = PATH, from?: number): Promise<CoreEntry[]> {
  const reader = await PerCoreWalReader.open(path, { io });
  try {
    return (await reader.read(from === undefined ? {} : { from })).entries;
  } finally {
    await reader.close();
  }
}

/** Polls until the writer's pending sync completed (feeding it every completion). */
async function settle(writer: CoreWalWriter): Promise<IoCompletion[]> {
  const seen: IoCompletion[] = [];
  while (writer.isSyncPending) {
    const completions = await io.waitCompletions(1);
    seen.push(...completions);
    writer.checkCompletions(completions);
  }
  return seen;
}

describe('CoreWalWriter direct path', () => {
  it('creates a core file with a header and returns the position after each entry', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    expect(writer.position).toBe(64);
    const afterPut = writer.appendPut(bytes('k'), bytes('value'));
    const afterDelete = writer.appendDelete(bytes('k'));
    expect(afterPut).toBeGreaterThan(64);
    expect(afterDelete).toBe(writer.position);
    expect(writer.sequence).toBe(2n);
    expect(writer.syncedPosition).toBe(64);
    expect(writer.entriesSinceSync).toBe(2);
    await writer.sync();
    expect(writer.syncedPosition).toBe(afterDelete);
    expect(writer.entriesSinceSync).toBe(0);
    await writer.close();
    const entries = await readEntries();
    expect(entries.map((e) => [e.op, e.coreId, e.sequence])).toEqual([
      ['put', 3, 1n],
      ['delete', 3, 2n],
    ]);
  });

  it('writes every kind of entry with the current epoch', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendCheckpoint(7n);
    writer.setEpoch(2n);
    writer.appendEpochBarrier();
    writer.appendCommit(new Map([['orders', 41n]]), -5n);
    writer.append({ op: 'put', key: bytes('a'), value: bytes('b') });
    await writer.close();
    const entries = await readEntries();
    expect(entries.map((e) => [e.op, e.epoch])).toEqual([
      ['checkpoint', 0n],
      ['epochBarrier', 2n],
      ['commit', 2n],
      ['put', 2n],
    ]);
    const commit = entries[2]!;
    expect(commit.op === 'commit' && [...commit.offsets] && commit.watermark).toBe(-5n);
  });

  it('refuses to create over an existing file', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    await writer.close();
    await expectWalError(CoreWalWriter.create(3, PATH, { io }), WalErrorCode.BAD_STATE);
  });

  it('keeps entries across buffer rotations and for entries larger than a buffer', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io, bufferSize: 4096 });
    const big = Buffer.alloc(10_000, 7);
    for (let i = 0; i < 300; i++) writer.appendPut(bytes(`key-${i}`), Buffer.alloc(100, i));
    writer.appendPut(bytes('big'), big);
    await writer.sync();
    await writer.close();
    const entries = await readEntries();
    expect(entries).toHaveLength(301);
    expect(entries.map((e) => e.sequence)).toEqual(entries.map((_, i) => BigInt(i + 1)));
    const last = entries[300]!;
    expect(last.op === 'put' && Buffer.compare(last.value, big)).toBe(0);
  });

  it('never hands out a timestamp below the previous one, even when the clock steps back', async () => {
    const ticks = [100n, 200n, 50n, 50n, 300n];
    const writer = await CoreWalWriter.create(3, PATH, { io, clock: () => ticks.shift() ?? 0n });
    for (let i = 0; i < 5; i++) writer.appendDelete(bytes(`k${i}`));
    await writer.close();
    expect((await readEntries()).map((e) => e.timestampNs)).toEqual([100n, 200n, 201n, 202n, 300n]);
  });

  it('rejects a malformed entry without consuming a sequence or a byte', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPut(bytes('a'), bytes('1'));
    const before = writer.position;
    expectWalError(
      () => writer.appendPut('not bytes' as unknown as Uint8Array, bytes('1')),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => writer.append({ op: 'nope' } as unknown as Parameters<typeof writer.append>[0]),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(writer.position).toBe(before);
    expect(writer.sequence).toBe(1n);
    writer.appendDelete(bytes('a'));
    await writer.close();
    expect((await readEntries()).map((e) => e.sequence)).toEqual([1n, 2n]);
  });

  it('never lets the epoch go back', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.setEpoch(5n);
    expectWalError(() => writer.setEpoch(4n), WalErrorCode.BAD_ARGUMENT);
    await writer.close();
  });

  it('queues concurrent sync() calls and covers everything appended before each call', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPut(bytes('a'), bytes('1'));
    const first = writer.sync();
    const mid = writer.appendPut(bytes('b'), bytes('2'));
    const second = writer.sync();
    await Promise.all([first, second]);
    expect(writer.syncedPosition).toBe(mid);
    await writer.close();
  });

  it('keeps exactly the synced entries through a power loss', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPut(bytes('durable'), bytes('1'));
    await writer.sync();
    writer.appendPut(bytes('lost'), bytes('2'));
    io.simulatePowerLoss();
    const entries = await readEntries();
    expect(entries.map((e) => e.op === 'put' && e.key.toString())).toEqual(['durable']);
  });
});

describe('CoreWalWriter.openAt', () => {
  it('restores sequence, epoch and timestamp and cuts what follows the position (durably)', async () => {
    let now = 1_000n;
    const clock = () => now;
    const writer = await CoreWalWriter.create(3, PATH, { io, clock });
    writer.setEpoch(4n);
    writer.appendPut(bytes('a'), bytes('1'));
    const keep = writer.appendPut(bytes('b'), bytes('2'));
    writer.appendPut(bytes('c'), bytes('3'));
    await writer.close();

    const resumed = await CoreWalWriter.openAt(3, PATH, keep, { io, clock });
    expect(resumed.sequence).toBe(2n);
    expect(resumed.epoch).toBe(4n);
    await resumed.close();
    io.simulatePowerLoss(); // the cut must already be durable
    expect((await readEntries()).map((e) => e.sequence)).toEqual([1n, 2n]);

    now = 10n; // the clock stepped back while the process was down
    const again = await CoreWalWriter.openAt(3, PATH, keep, { io, clock });
    again.appendDelete(bytes('d'));
    await again.close();
    const entries = await readEntries();
    expect(entries.map((e) => e.sequence)).toEqual([1n, 2n, 3n]);
    expect(entries[2]!.op).toBe('delete');
    expect(entries[2]!.epoch).toBe(4n);
    expect(entries[2]!.timestampNs).toBeGreaterThan(entries[1]!.timestampNs);
  });

  it('rejects a position that is not the end of a valid entry', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    const end = writer.appendPut(bytes('a'), bytes('1'));
    await writer.close();
    await expectWalError(CoreWalWriter.openAt(3, PATH, end - 3, { io }), WalErrorCode.CORRUPT);
    await expectWalError(CoreWalWriter.openAt(3, PATH, end + 10, { io }), WalErrorCode.CORRUPT);
  });

  it('rejects the file of another core', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    const end = writer.appendPut(bytes('a'), bytes('1'));
    await writer.close();
    await expectWalError(CoreWalWriter.openAt(4, PATH, end, { io }), WalErrorCode.CORRUPT);
  });
});

describe('CoreWalWriter StorageIo path', () => {
  it('advances syncedPosition only when the sync completion is fed back, to the position at submission', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPutViaStorageIo(bytes('a'), bytes('1'));
    const atSync = writer.appendDeleteViaStorageIo(bytes('a'));
    const token = writer.syncViaStorageIo();
    const after = writer.appendViaStorageIo({ op: 'delete', key: bytes('b') });
    expect(writer.isSyncPending).toBe(true);
    expect(writer.syncedPosition).toBe(64);

    const seen = await settle(writer);
    expect(seen.some((c) => c.token === token && c.op === 'fdatasync')).toBe(true);
    expect(writer.syncedPosition).toBe(atSync);
    expect(writer.entriesSinceSync).toBe(1);
    expect(after).toBeGreaterThan(atSync);
  });

  it('waits for sync() to finish: no StorageIo-path write or sync beside a direct one', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPut(bytes('a'), bytes('1'));
    const syncing = writer.sync();
    const position = writer.position;
    expectWalError(() => writer.syncViaStorageIo(), WalErrorCode.BAD_STATE);
    expectWalError(
      () => writer.appendPutViaStorageIo(bytes('b'), bytes('2')),
      WalErrorCode.BAD_STATE,
    );
    expect(writer.position).toBe(position);
    await syncing;
    // Right after the await the path is free again.
    writer.appendPutViaStorageIo(bytes('b'), bytes('2'));
    writer.syncViaStorageIo();
    await settle(writer);
    expect(writer.syncedPosition).toBe(writer.position);
  });

  it('answers false for completions that are only writes (a write is never taken for the sync)', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPutViaStorageIo(bytes('a'), bytes('1'));
    const writes = await io.waitCompletions(1);
    expect(writes.map((c) => c.op)).toEqual(['write']);
    expect(writer.checkCompletions(writes)).toBe(false);
    writer.syncViaStorageIo();
    await settle(writer);
    expect(writer.syncedPosition).toBe(writer.position);
  });

  it('merges a second sync while one is pending instead of rejecting it', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPutViaStorageIo(bytes('a'), bytes('1'));
    const first = writer.syncViaStorageIo();
    expect(writer.syncViaStorageIo()).toBe(first);
    writer.appendPutViaStorageIo(bytes('b'), bytes('2'));
    const second = writer.syncViaStorageIo();
    expect(second).not.toBe(first);
    await settle(writer);
    expect(writer.syncedPosition).toBe(writer.position);
  });

  it('ignores completions of other users of the same StorageIo', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    const other = await CoreWalWriter.create(4, `${DIR}/wal-4.log`, { io });
    other.appendPutViaStorageIo(bytes('x'), bytes('y'));
    other.syncViaStorageIo();
    writer.appendPutViaStorageIo(bytes('a'), bytes('1'));
    writer.syncViaStorageIo();
    const completions = await io.waitCompletions(4);
    expect(writer.checkCompletions(completions)).toBe(true);
    expect(other.checkCompletions(completions)).toBe(true);
    expect(writer.syncedPosition).toBe(writer.position);
  });

  it('markSynced refuses while writes are buffered or in flight', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io });
    writer.appendPut(bytes('a'), bytes('1'));
    expectWalError(() => writer.markSynced(), WalErrorCode.BAD_STATE);
    await writer.sync();
    writer.markSynced();
    expect(writer.syncedPosition).toBe(writer.position);
  });
});

describe('CoreWalWriter faults', () => {
  let faulty: FaultyStorageIo;
  beforeEach(() => {
    faulty = new FaultyStorageIo(io);
  });

  it('a failed fdatasync throws and poisons the writer', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    writer.appendPut(bytes('a'), bytes('1'));
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    await expectWalError(writer.sync(), WalErrorCode.IO);
    expect(writer.syncedPosition).toBe(64);
    expectWalError(() => writer.appendPut(bytes('b'), bytes('2')), WalErrorCode.POISONED);
    await expectWalError(writer.sync(), WalErrorCode.POISONED);
  });

  it('direct path: a short write is completed by writing the rest, never left as a hole', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    writer.appendPut(bytes('a'), Buffer.alloc(500, 1));
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 100 });
    await writer.sync();
    expect(writer.syncedPosition).toBe(writer.position);
    await writer.close();
    const entries = await readEntries();
    expect(entries).toHaveLength(1);
  });

  it('direct path: a short write whose rest fails throws and poisons', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    writer.appendPut(bytes('a'), Buffer.alloc(500));
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 100 });
    faulty.inject({ kind: 'eio', op: 'write', nth: 2 });
    await expectWalError(writer.sync(), WalErrorCode.IO);
    expect(writer.syncedPosition).toBe(64);
    expect(writer.poisoned).toBe(true);
  });

  it('direct path: a sync that ran beside a failed rest never counts the hole as durable', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty, bufferSize: 4096 });
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 1 });
    writer.appendPut(bytes('a'), Buffer.alloc(3000, 1));
    writer.appendPut(bytes('b'), Buffer.alloc(3000, 2));
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 1 });
    writer.appendPut(bytes('c'), Buffer.alloc(3000, 3));
    // Two buffers are out: the first lands 1 byte and the second is cancelled behind it. Of
    // their rests, the first's moves nothing, while sync()'s own write and fdatasync succeed.
    faulty.inject({ kind: 'short-write', nth: 2, bytes: 0 });
    await new Promise((resolve) => setImmediate(resolve));
    await expectWalError(writer.sync(), WalErrorCode.IO);
    expect(writer.poisoned).toBe(true);
    expect(writer.syncedPosition).toBe(64);
  });

  it('direct path: sync() sends its fdatasync only once the rest of a short write has landed', async () => {
    const recorded = new RecordingStorageIo(faulty);
    const writer = await CoreWalWriter.create(3, PATH, { io: recorded, bufferSize: 4096 });
    const tick = () => new Promise((resolve) => setImmediate(resolve));
    writer.appendPut(bytes('a'), Buffer.alloc(3000, 1));
    // The first buffer goes out when the next entry does not fit; 100 bytes of it land, and
    // the completion of its rest is held back.
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 100 });
    const rest = recorded.hold((op) => op.kind === 'write' && op.offset === 64 + 100);
    writer.appendPut(bytes('b'), Buffer.alloc(3000, 2));
    for (let i = 0; i < 50 && rest.held === 0; i++) await tick();
    expect(rest.held).toBe(1);
    // The rest went out unlinked: an fdatasync sent now could run before it and behind the
    // second entry's write, and make that durable beyond a hole.
    const syncs = () => recorded.ops.filter((op) => op.kind === 'fdatasync');
    const before = syncs().length;
    const syncing = writer.sync();
    for (let i = 0; i < 50; i++) await tick();
    expect(syncs().length - before).toBe(0);
    rest.release();
    await syncing;
    expect(syncs().length - before).toBe(1);
    expect(writer.syncedPosition).toBe(writer.position);
  });

  /**
   * A writer on `faulty` whose second fdatasync from now is held back until `release()`, so
   * the first comes back while the second still runs.
   */
  async function writerWithSecondSyncHeld() {
    const recorded = new RecordingStorageIo(faulty);
    const writer = await CoreWalWriter.create(3, PATH, { io: recorded });
    const before = recorded.ops.filter((op) => op.kind === 'fdatasync').length;
    const second = recorded.hold((op) => op.kind === 'fdatasync' && op.nth === before + 2);
    writer.appendPutViaStorageIo(bytes('a'), bytes('1'));
    writer.syncViaStorageIo();
    const atFirst = writer.position;
    writer.appendPutViaStorageIo(bytes('b'), bytes('2'));
    writer.syncViaStorageIo();
    // The first write and its sync, and the second write, come back.
    expect(writer.checkCompletions(await completions(recorded, 3))).toBe(true);
    return { recorded, writer, atFirst, second };
  }

  async function completions(source: StorageIo, count: number): Promise<IoCompletion[]> {
    const seen: IoCompletion[] = [];
    while (seen.length < count) seen.push(...(await source.waitCompletions(count - seen.length)));
    return seen;
  }

  it('StorageIo path: a sync that completes beside a later one counts once that one came back clean', async () => {
    // Linux hands a file's writeback error to one of the fdatasyncs running on it: the later
    // sync may take the error of the earlier one's bytes.
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 2 });
    const { recorded, writer, second } = await writerWithSecondSyncHeld();
    expect(writer.syncedPosition).toBe(64);
    second.release();
    const failed = await completions(recorded, 1);
    expectWalError(() => writer.checkCompletions(failed), WalErrorCode.IO);
    expect(writer.syncedPosition).toBe(64);
    expect(writer.poisoned).toBe(true);
  });

  it('StorageIo path: syncs that overlap count once both came back clean', async () => {
    const { recorded, writer, atFirst, second } = await writerWithSecondSyncHeld();
    expect(writer.syncedPosition).toBeLessThan(atFirst);
    second.release();
    expect(writer.checkCompletions(await completions(recorded, 1))).toBe(true);
    expect(writer.syncedPosition).toBe(writer.position);
    expect(writer.isSyncPending).toBe(false);
  });

  it('StorageIo path: a short write is completed by writing the rest, then synced again', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    const writesBefore = faulty.counts.write;
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 10 });
    writer.appendPutViaStorageIo(bytes('a'), Buffer.alloc(200));
    writer.syncViaStorageIo();
    // The short write and the sync it cancelled: the rest and a new sync go out.
    expect(writer.checkCompletions(await faulty.waitCompletions(2))).toBe(false);
    expect(writer.syncedPosition).toBe(64);
    expect(writer.isSyncPending).toBe(true);
    while (!writer.checkCompletions(await faulty.waitCompletions(1))) {}
    expect(writer.syncedPosition).toBe(writer.position);
    expect(faulty.counts.write - writesBefore).toBe(2);
    await writer.close();
    expect(await readEntries()).toHaveLength(1);
  });

  it('StorageIo path: a write linked behind a short one goes out again whole', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 10 });
    writer.appendPutViaStorageIo(bytes('a'), Buffer.alloc(200));
    writer.appendPutViaStorageIo(bytes('b'), Buffer.alloc(200));
    writer.syncViaStorageIo();
    while (!writer.checkCompletions(await faulty.waitCompletions(1))) {}
    expect(writer.syncedPosition).toBe(writer.position);
    await writer.close();
    expect(
      (await readEntries()).map((e) => (e.op === 'put' ? Buffer.from(e.key).toString() : e.op)),
    ).toEqual(['a', 'b']);
  });

  it('StorageIo path: a sync asked for while the rest of a short write is out is owed until it lands', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 10 });
    const end = writer.appendPutViaStorageIo(bytes('a'), Buffer.alloc(200));
    expect(writer.checkCompletions(await faulty.waitCompletions(1))).toBe(false);
    // The rest is out, unlinked: a sync sent now could run before it.
    expect(writer.syncViaStorageIo()).toBe(-1);
    expect(writer.isSyncPending).toBe(true);
    const restDone = await faulty.waitCompletions(1);
    expect(restDone.map((c) => c.op)).toEqual(['write']);
    // The rest's completion sends the owed sync.
    expect(writer.checkCompletions(restDone)).toBe(false);
    const sync = await faulty.waitCompletions(1);
    expect(sync.map((c) => c.op)).toEqual(['fdatasync']);
    expect(writer.checkCompletions(sync)).toBe(true);
    expect(writer.syncedPosition).toBe(end);
    expect(writer.isSyncPending).toBe(false);
  });

  it('StorageIo path: a short write whose rest fails throws and poisons', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 10 });
    faulty.inject({ kind: 'eio', op: 'write', nth: 2 });
    writer.appendPutViaStorageIo(bytes('a'), Buffer.alloc(200));
    writer.syncViaStorageIo();
    expect(writer.checkCompletions(await faulty.waitCompletions(2))).toBe(false);
    const rest = await faulty.waitCompletions(2);
    expectWalError(() => writer.checkCompletions(rest), WalErrorCode.IO);
    expect(writer.syncedPosition).toBe(64);
    expectWalError(() => writer.syncViaStorageIo(), WalErrorCode.POISONED);
  });

  it('StorageIo path: a failed sync completion throws', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    writer.appendPutViaStorageIo(bytes('a'), bytes('1'));
    writer.syncViaStorageIo();
    const completions = await faulty.waitCompletions(2);
    expectWalError(() => writer.checkCompletions(completions), WalErrorCode.IO);
    expect(writer.syncedPosition).toBe(64);
  });

  it('ENOSPC surfaces as WAL_NO_SPACE, saying the writer must be reopened (it is poisoned), not retried', async () => {
    const writer = await CoreWalWriter.create(3, PATH, { io: faulty });
    faulty.inject({ kind: 'enospc', afterBytes: 50 });
    writer.appendPut(bytes('a'), Buffer.alloc(500));
    const error = await expectWalError(writer.sync(), WalErrorCode.NO_SPACE);
    expect(error.message).toContain('the writer is poisoned');
    expect(error.message).toContain('reopen it with openAt once space is free');
    faulty.clearFaults();
    await expectWalError(writer.sync(), WalErrorCode.POISONED);
  });
});
