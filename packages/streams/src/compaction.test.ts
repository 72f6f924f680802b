import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../test/temp.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { StreamErrorCode } from './errors.js';
import { Streams } from './streams.js';

const SEGMENT = 16 * 1024;
const kib = (tag: string) => Buffer.alloc(1024, tag);

/** Every record of `name`, as strings. */
async function all(s: Streams, name: string): Promise<string[]> {
  const out: string[] = [];
  for (let from = 0; ; ) {
    const read = await s.read(name, from, { maxRecords: 10_000 });
    out.push(...read.records.map((r) => r.payload.toString()));
    if (read.records.length === 0) return out;
    from = read.next;
  }
}

/** 'keep' lives from the first record on; 'old' fills segments after it and is deleted. */
async function pinnedByKeep(dir: string) {
  const s = await Streams.open(dir, { segmentSize: SEGMENT, checkpointEvery: 0, maxWaste: 0.5 });
  await s.create('keep');
  await s.append('keep', [Buffer.from('k0'), Buffer.from('k1')], {
    producer: { producerId: 'p', epoch: 3, seq: 0 },
  });
  await s.create('old');
  for (let i = 0; i < 100; i++) await s.append('old', kib('o'));
  await s.append('keep', Buffer.from('k2'), { producer: { producerId: 'p', epoch: 3, seq: 1 } });
  await s.delete('old');
  return s;
}

describe('compaction', () => {
  it('frees the segments one long-lived stream pinned, which reclaim alone cannot', async () => {
    const dir = tempDir();
    const s = await pinnedByKeep(dir);
    await s.checkpoint();
    expect((await s.reclaim()).segmentsDeleted).toBe(0);
    const before = await s.spaceUsed();
    expect(before.deadBytes).toBeGreaterThan(100 * 1024);
    expect(before.logBytes).toBeGreaterThan(before.boundBytes);

    const done = await s.compact();
    expect(done.streamsCopied).toBe(1);
    // k0 and k1 are one record below the boundary; k2 is in the segment being written.
    expect(done.recordsCopied).toBe(1);
    expect(done.segmentsDeleted).toBeGreaterThanOrEqual(5);
    const after = await s.spaceUsed();
    expect(after.logBytes).toBeLessThanOrEqual(after.boundBytes);
    expect(after.liveBytes).toBeLessThan(1024);
    expect(await all(s, 'keep')).toEqual(['k0', 'k1', 'k2']);
    await s.shutdown();
  });

  it('keeps offsets, producer state and the stream after a reopen, with and without the checkpoint', async () => {
    const dir = tempDir();
    const s = await pinnedByKeep(dir);
    await s.close('keep');
    await s.compact();
    const info = s.metadata('keep');
    await s.shutdown();
    for (const lose of [false, true]) {
      if (lose) rmSync(join(dir, CHECKPOINT_FILE));
      const again = await Streams.open(dir);
      expect(again.recovery.checkpointLsn === 0n).toBe(lose);
      expect(again.list()).toEqual(['keep']);
      expect(again.metadata('keep')).toEqual(info);
      expect(await all(again, 'keep')).toEqual(['k0', 'k1', 'k2']);
      const read = await again.read('keep', 1);
      expect(read.records.map((r) => r.offset)).toEqual([1, 2]);
      expect(read.end).toBe(true);
      // The producer's window came through the image: a retry is still a duplicate.
      const retry = await again.append('keep', Buffer.from('k2'), {
        producer: { producerId: 'p', epoch: 3, seq: 1 },
      });
      expect(retry).toEqual({ first: 2, tail: 3, duplicate: true, producerSeq: 1 });
      await expect(again.read('old')).rejects.toMatchObject({ code: StreamErrorCode.NOT_FOUND });
      expect((await again.create('newer')).info.id).toBeGreaterThan(info.id);
      await again.delete('newer');
      await again.shutdown();
    }
  });

  it('copies a copy again, and a replay without checkpoint reads each record once', async () => {
    const dir = tempDir();
    const s = await pinnedByKeep(dir);
    const sent = ['k0', 'k1', 'k2'];
    for (let round = 0; round < 3; round++) {
      await s.create(`old${round}`);
      for (let i = 0; i < 40; i++) await s.append(`old${round}`, kib('x'));
      await s.append('keep', Buffer.from(`r${round}`));
      sent.push(`r${round}`);
      await s.delete(`old${round}`);
      await s.compact();
    }
    expect(await all(s, 'keep')).toEqual(sent);
    await s.log.shutdown(); // no checkpoint at this close, as after a crash
    rmSync(join(dir, CHECKPOINT_FILE));
    const again = await Streams.open(dir);
    expect(await all(again, 'keep')).toEqual(sent);
    expect(again.metadata('keep').tail).toBe(sent.length);
    await again.shutdown();
  });

  it('reads a stream of many small appends after a compaction with a seek per copy, not per append', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { segmentSize: SEGMENT, checkpointEvery: 0 });
    await s.create('keep');
    const sent = Array.from({ length: 2000 }, (_, i) => `k${i}`);
    for (const payload of sent) await s.append('keep', Buffer.from(payload));
    await s.create('old');
    for (let i = 0; i < 40; i++) await s.append('old', kib('o'));
    await s.delete('old');
    expect((await s.compact()).recordsCopied).toBeGreaterThan(1900);
    const seeks = vi.spyOn(s.log, 'iterator');
    const read = await s.read('keep', 0, { maxRecords: 10_000 });
    expect(read.records.map((r) => r.payload.toString())).toEqual(sent);
    // The copies are a few records of up to maxRecordSize each.
    expect(seeks.mock.calls.length).toBeLessThanOrEqual(5);
    await s.shutdown();
  });

  it('runs by itself after a checkpoint once the log passes its bound, and not before', async () => {
    const dir = tempDir();
    const s = await Streams.open(dir, { segmentSize: SEGMENT, checkpointEvery: 5, maxWaste: 1 });
    await s.create('keep');
    await s.create('old');
    for (let i = 0; i < 60; i++) await s.append('old', kib('o'));
    // All of it live: the automatic checks after every 5 calls compacted nothing.
    const full = (await s.log.segments()).length;
    expect(full).toBeGreaterThanOrEqual(4);
    expect(s.log.floorLsn).toBe(1n);
    await s.delete('old');
    let appended = 0;
    while (appended < 200 && (await s.log.segments()).length >= full) {
      await s.append('keep', Buffer.from(`k${appended++}`));
    }
    expect((await s.log.segments()).length).toBeLessThan(full);
    const space = await s.spaceUsed();
    expect(space.logBytes).toBeLessThanOrEqual(space.boundBytes);
    await s.shutdown();
    const again = await Streams.open(dir, { segmentSize: SEGMENT });
    expect((await all(again, 'keep')).length).toBe(appended);
    await again.shutdown();
  });

  it('leaves a stream whose image would pass maxRecordSize where it is, and breaks nothing', async () => {
    const dir = tempDir();
    const options = { segmentSize: SEGMENT, checkpointEvery: 0, maxRecordSize: 4096 };
    const s = await Streams.open(dir, options);
    await s.create('early');
    await s.append('early', Buffer.from('e0'));
    await s.create('old');
    for (let i = 0; i < 30; i++) await s.append('old', kib('o'));
    await s.create('crowd');
    // 200 producers' state makes an image of about 7 KiB.
    for (let p = 0; p < 200; p++) {
      await s.append('crowd', Buffer.from(`c${p}`), {
        producer: { producerId: `producer-${p}`, epoch: 0, seq: 0 },
      });
    }
    await s.delete('old');
    const done = await s.compact();
    expect(done.streamsTooLarge).toEqual(['crowd']);
    // Below crowd's create, early's record was copied forward and old's segments deleted.
    expect(done.recordsCopied).toBe(1);
    expect(done.segmentsDeleted).toBeGreaterThan(0);
    const crowd = Array.from({ length: 200 }, (_, p) => `c${p}`);
    await s.append('crowd', Buffer.from('after'));
    expect(await all(s, 'early')).toEqual(['e0']);
    expect(await all(s, 'crowd')).toEqual([...crowd, 'after']);
    await s.shutdown();

    const again = await Streams.open(dir, options);
    expect(await all(again, 'crowd')).toEqual([...crowd, 'after']);
    // A retry of a producer's append is still known for a duplicate.
    const retry = await again.append('crowd', Buffer.from('c7'), {
      producer: { producerId: 'producer-7', epoch: 0, seq: 0 },
    });
    expect(retry).toMatchObject({ first: 7, duplicate: true });
    await again.delete('crowd');
    expect((await again.compact()).streamsTooLarge).toEqual([]);
    expect(await all(again, 'early')).toEqual(['e0']);
    await again.shutdown();
  });

  it('refuses a maxWaste that is not a number above 0', async () => {
    for (const maxWaste of [0, -1, Number.NaN, '1' as unknown as number]) {
      await expect(Streams.open(tempDir(), { maxWaste })).rejects.toMatchObject({
        code: 'WAL_BAD_ARGUMENT',
      });
    }
  });
});

/** Bytes of the files in `dir`: the log's segments and the checkpoint. */
function diskBytes(dir: string): { segments: number; checkpoint: number } {
  let segments = 0;
  let checkpoint = 0;
  for (const name of readdirSync(dir)) {
    const size = statSync(join(dir, name)).size;
    if (name === CHECKPOINT_FILE) checkpoint = size;
    else if (name.endsWith('.wal') || name.endsWith('.seg')) segments += size;
  }
  return { segments, checkpoint };
}

describe('the disk bound', () => {
  it('holds over many rounds of deletes beside one stream appended throughout', async () => {
    const dir = tempDir();
    const maxWaste = 0.5;
    const options = { segmentSize: SEGMENT, checkpointEvery: 20, maxWaste };
    const kept = new Map<string, string[]>([['keep', []]]);
    let worst = 0;
    for (let round = 0; round < 12; round++) {
      const s = await Streams.open(dir, options);
      if (round === 0) await s.create('keep');
      for (let n = 0; n < 6; n++) {
        const name = `r${round}-${n}`;
        await s.create(name);
        const records = Array.from({ length: 8 }, (_, i) => `${name}:${i}:${'x'.repeat(900)}`);
        for (const r of records) await s.append(name, Buffer.from(r));
        kept.set(name, records);
        const k = `keep:${round}:${n}`;
        await s.append('keep', Buffer.from(k));
        kept.get('keep')!.push(k);
      }
      // All but one of the round's streams go; an earlier survivor now and then too.
      for (let n = 0; n < 5; n++) {
        await s.delete(`r${round}-${n}`);
        kept.delete(`r${round}-${n}`);
      }
      if (round % 3 === 2) {
        await s.delete(`r${round - 2}-5`);
        kept.delete(`r${round - 2}-5`);
      }
      // Calls after the deletes, until an automatic check (after each 20th call) has run.
      let checked = false;
      for (let i = 0; i < 200 && !checked; i++) {
        const k = `keep:${round}:tail${i}`;
        await s.append('keep', Buffer.from(k));
        kept.get('keep')!.push(k);
        const space = await s.spaceUsed();
        checked = space.logBytes <= space.boundBytes;
      }
      expect(checked).toBe(true);
      await s.shutdown();

      const again = await Streams.open(dir, options);
      const space = await again.spaceUsed();
      const disk = diskBytes(dir);
      expect(disk.segments).toBe(space.logBytes);
      let payload = 0;
      for (const [name, records] of kept) {
        expect(await all(again, name)).toEqual(records);
        for (const r of records) payload += r.length;
      }
      // Live bytes are the records' bytes: their payloads and some framing, no more.
      expect(space.liveBytes).toBeGreaterThanOrEqual(payload);
      expect(space.liveBytes).toBeLessThan(payload * 1.5 + 4096);
      expect(space.boundBytes).toBe(space.liveBytes * (1 + maxWaste) + SEGMENT);
      expect(disk.segments + disk.checkpoint).toBeLessThanOrEqual(
        space.liveBytes * (1 + maxWaste) + SEGMENT + disk.checkpoint,
      );
      worst = Math.max(worst, disk.segments / space.liveBytes);
      await again.shutdown();
    }
    console.log(
      `streams disk bound: worst log/live ratio ${worst.toFixed(2)} (bound 1.5 + one segment)`,
    );
  });
});
