import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
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
