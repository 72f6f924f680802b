import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { ROWS_FILES } from './rows-file.js';
import { Streams } from './streams.js';

const b = (s: string) => Buffer.from(s);

async function fill(streams: Streams) {
  await streams.create('a', { ttlMs: 10 ** 9, metadata: { k: 'v' } });
  await streams.create('b');
  await streams.append('a', [b('a0'), b('a1')], {
    producer: { producerId: 'p', epoch: 2, seq: 0 },
  });
  await streams.append('b', b('b0'));
  await streams.close('b');
  await streams.create('gone');
  await streams.delete('gone');
}

describe('the index checkpoint', () => {
  it('written at shutdown lets open replay nothing, with every stream as it was', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir);
    await fill(s);
    const before = ['a', 'b'].map((n) => s.metadata(n));
    const last = s.log.lastLsn;
    await s.shutdown();
    const again = await Streams.open(dir);
    expect(again.recovery).toEqual({ checkpointLsn: last, replayedRecords: 0 });
    expect(['a', 'b'].map((n) => again.metadata(n))).toEqual(before);
    expect(again.list()).toEqual(['a', 'b']);
    const retry = await again.append('a', [b('a0'), b('a1')], {
      producer: { producerId: 'p', epoch: 2, seq: 0 },
    });
    expect(retry).toEqual({ first: 0, tail: 2, duplicate: true, producerSeq: 0 });
    expect((await again.read('a')).records.map((r) => r.payload.toString())).toEqual(['a0', 'a1']);
    await again.shutdown();
  });

  it('taken every few calls leaves open only the records after it to replay', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { checkpointEvery: 10 });
    await s.create('a');
    for (let i = 0; i < 35; i++) await s.append('a', b(`${i}`));
    expect(await s.checkpoint()).toBe(s.log.lastLsn);
    await s.append('a', b('35'));
    await s.log.shutdown(); // no checkpoint at this close, as after a crash
    const again = await Streams.open(dir);
    expect(again.recovery.replayedRecords).toBe(1);
    expect(again.metadata('a').tail).toBe(36);
    expect((await again.read('a', 34)).records.map((r) => r.payload.toString())).toEqual([
      '34',
      '35',
    ]);
    await again.shutdown();
  });

  it('reopens a stream whose index has 150,000 entries', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { durability: 'none' });
    await s.create('big');
    for (let at = 0; at < 150_000; at += 5_000) {
      await Promise.all(Array.from({ length: 5_000 }, (_, i) => s.append('big', b(`${at + i}`))));
    }
    await s.shutdown();
    const again = await Streams.open(dir, { readOnly: true });
    expect(again.recovery.replayedRecords).toBe(0);
    expect(again.metadata('big').tail).toBe(150_000);
    const read = await again.read('big', 149_998);
    expect(read.records.map((r) => r.payload.toString())).toEqual(['149998', '149999']);
    await again.shutdown();
  });

  it('that is damaged is ignored: open replays the whole log instead', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir);
    await fill(s);
    const last = s.log.lastLsn;
    await s.shutdown();
    const bytes = readFileSync(join(dir, CHECKPOINT_FILE));
    bytes[bytes.length - 3]! ^= 0xff;
    writeFileSync(join(dir, CHECKPOINT_FILE), bytes);
    const again = await Streams.open(dir);
    expect(again.recovery).toEqual({ checkpointLsn: 0n, replayedRecords: Number(last) });
    expect(again.metadata('a').tail).toBe(2);
    expect(again.list()).toEqual(['a', 'b']);
    await again.shutdown();
  });
});

const size = (dir: string, name: string) => statSync(join(dir, name)).size;
/** The rows file in `dir` (exactly one is there between checkpoints). */
function rowsFile(dir: string): string {
  const there = ROWS_FILES.filter((name) => existsSync(join(dir, name)));
  expect(there).toHaveLength(1);
  return there[0]!;
}

/**
 * Stream `name`'s records from `from`, as strings, read by a read-only open that started
 * from the checkpoint and replayed nothing after it.
 */
async function readBack(dir: string, name: string, from = 0): Promise<string[]> {
  const reader = await Streams.open(dir, { readOnly: true });
  try {
    expect(reader.recovery.replayedRecords).toBe(0);
    return (await reader.read(name, from)).records.map((r) => r.payload.toString());
  } finally {
    await reader.shutdown();
  }
}

/** `calls` appends of one record, round-robin over streams s0..s{streams-1}. */
async function appendRoundRobin(s: Streams, streams: number, calls: number, from = 0) {
  await Promise.all(
    Array.from({ length: calls }, (_, i) => s.append(`s${(from + i) % streams}`, b(`${from + i}`))),
  );
}

describe('the index rows file beside the checkpoint', () => {
  it('grows by what each checkpoint adds, while the checkpoint stays the size of the table', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { durability: 'none', checkpointEvery: 0 });
    for (let i = 0; i < 10; i++) await s.create(`s${i}`);
    await appendRoundRobin(s, 10, 5_000);
    await s.checkpoint();
    const name = rowsFile(dir);
    const [rows, table] = [size(dir, name), size(dir, CHECKPOINT_FILE)];
    await appendRoundRobin(s, 10, 100, 5_000);
    await s.checkpoint();
    // 100 rows of 24 bytes, a run head of 24 bytes for each of the 10 streams, a chunk head.
    expect(size(dir, name) - rows).toBe(100 * 24 + 10 * 24 + 16);
    expect(size(dir, CHECKPOINT_FILE)).toBe(table);
    await s.shutdown();

    const again = await Streams.open(dir, { readOnly: true });
    expect(again.recovery.replayedRecords).toBe(0);
    expect(again.metadata('s3').tail).toBe(510);
    const read = await again.read('s3', 508);
    expect(read.records.map((r) => r.payload.toString())).toEqual(['5083', '5093']);
    await again.shutdown();
  });

  it('ignores rows past what the checkpoint counts (a crash between the two writes), then writes over them', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { checkpointEvery: 0 });
    await s.create('a');
    await s.append('a', [b('a0'), b('a1')]);
    await s.shutdown();
    const name = rowsFile(dir);
    const counted = size(dir, name);
    appendFileSync(join(dir, name), Buffer.alloc(100, 0xee));

    const again = await Streams.open(dir, { checkpointEvery: 0 });
    expect(again.recovery.replayedRecords).toBe(0);
    await again.append('a', b('a2'));
    await again.checkpoint();
    await again.log.shutdown(); // no checkpoint at this close, as after a crash
    expect(size(dir, name)).toBe(counted + 100);
    // Its checkpoint counts the chunk written over the first of those bytes: read past them, it
    // would meet the rest and replay instead.
    expect(await readBack(dir, 'a')).toEqual(['a0', 'a1', 'a2']);
  });

  it('is written whole by shutdown once a stream has rows in more than one piece', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { durability: 'none', checkpointEvery: 0 });
    for (let i = 0; i < 10; i++) await s.create(`s${i}`);
    await appendRoundRobin(s, 10, 1_000);
    await s.checkpoint();
    const name = rowsFile(dir);
    const whole = size(dir, name);
    await appendRoundRobin(s, 10, 1_000, 1_000);
    await s.checkpoint();
    expect(rowsFile(dir)).toBe(name);
    await s.shutdown();
    // The other name: a head, a chunk head, and a run of 200 rows for each stream.
    expect(rowsFile(dir)).not.toBe(name);
    expect(size(dir, rowsFile(dir))).toBe(16 + 16 + 10 * (24 + 200 * 24));
    expect(whole).toBe(16 + 16 + 10 * (24 + 100 * 24));
    expect(await readBack(dir, 's7', 199)).toEqual(['1997']);
  });

  it('that is damaged makes open replay the whole log, which then writes it anew', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir);
    await fill(s);
    const last = s.log.lastLsn;
    await s.shutdown();
    const name = rowsFile(dir);
    const bytes = readFileSync(join(dir, name));
    bytes[bytes.length - 5]! ^= 0xff;
    writeFileSync(join(dir, name), bytes);

    const again = await Streams.open(dir);
    expect(again.recovery).toEqual({ checkpointLsn: 0n, replayedRecords: Number(last) });
    expect((await again.read('a')).records.map((r) => r.payload.toString())).toEqual(['a0', 'a1']);
    await again.shutdown();
    // The first checkpoint after a replay writes a new generation under the other name.
    expect(rowsFile(dir)).not.toBe(name);
    const third = await Streams.open(dir, { readOnly: true });
    expect(third.recovery.replayedRecords).toBe(0);
    await third.shutdown();
  });

  it('is written whole under the other name once a compaction moved rows it holds', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { segmentSize: 16 * 1024, checkpointEvery: 0 });
    await s.create('keep');
    await s.append('keep', [b('k0'), b('k1')]);
    await s.create('old');
    for (let i = 0; i < 40; i++) await s.append('old', Buffer.alloc(1024, 'o'));
    await s.checkpoint();
    const before = rowsFile(dir);
    await s.delete('old');
    expect((await s.compact()).recordsCopied).toBe(1);
    const after = rowsFile(dir);
    expect(after).not.toBe(before);
    await s.append('keep', b('k2'));
    await s.shutdown();

    expect(await readBack(dir, 'keep')).toEqual(['k0', 'k1', 'k2']);
  });

  it('is written whole without the rows of deleted streams once they outnumber the live', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { durability: 'none', checkpointEvery: 0 });
    for (let i = 0; i < 4; i++) await s.create(`s${i}`);
    await appendRoundRobin(s, 4, 100_000);
    await s.checkpoint();
    const full = size(dir, rowsFile(dir));
    for (let i = 1; i < 4; i++) await s.delete(`s${i}`);
    await s.append('s0', b('last'));
    await s.checkpoint();
    // s0's 25,001 rows of 24 bytes, and heads: a quarter of what the four streams took.
    expect(size(dir, rowsFile(dir))).toBeLessThan(full / 3);
    await s.shutdown();
    const again = await Streams.open(dir, { readOnly: true });
    expect(again.recovery.replayedRecords).toBe(0);
    expect(again.list()).toEqual(['s0']);
    expect((await again.read('s0', 25_000)).records.map((r) => r.payload.toString())).toEqual([
      'last',
    ]);
    await again.shutdown();
  });
});
