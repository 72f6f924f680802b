import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { StreamErrorCode } from './errors.js';
import { Streams } from './streams.js';

const SEGMENT = 64 * 1024;
const record = Buffer.alloc(1000, 1);

/** 'old' fills a few segments, 'new' follows; then 'old' is deleted. */
async function oldThenNew(dir: string) {
  const s = await Streams.open(dir, { segmentSize: SEGMENT, checkpointEvery: 0 });
  await s.create('old');
  for (let i = 0; i < 300; i++) await s.append('old', record);
  await s.create('new');
  await s.append('new', [Buffer.from('n0'), Buffer.from('n1')]);
  return s;
}

describe('reclaiming space', () => {
  it('keeps every segment while the oldest stream lives', async () => {
    const s = await oldThenNew(tempDir());
    await s.checkpoint();
    expect((await s.reclaim()).segmentsDeleted).toBe(0);
    await s.shutdown();
  });

  it('deletes the segments a deleted stream alone held, and the rest reopens intact', async () => {
    const dir = tempDir();
    const s = await oldThenNew(dir);
    const segments = (await s.log.segments()).length;
    await s.delete('old');
    await s.checkpoint();
    const reclaimed = await s.reclaim();
    expect(reclaimed.segmentsDeleted).toBeGreaterThanOrEqual(3);
    expect((await s.log.segments()).length).toBe(segments - reclaimed.segmentsDeleted);
    await s.shutdown();

    const again = await Streams.open(dir);
    expect(again.list()).toEqual(['new']);
    expect((await again.read('new')).records.map((r) => r.payload.toString())).toEqual([
      'n0',
      'n1',
    ]);
    await again.shutdown();
  });

  it('never stops a log from opening when the checkpoint is lost afterwards', async () => {
    const dir = tempDir();
    const s = await oldThenNew(dir);
    await s.delete('old');
    await s.checkpoint();
    await s.reclaim();
    await s.shutdown();
    const bytes = readFileSync(join(dir, CHECKPOINT_FILE));
    bytes[40]! ^= 0xff;
    writeFileSync(join(dir, CHECKPOINT_FILE), bytes);
    const again = await Streams.open(dir);
    expect(again.recovery.checkpointLsn).toBe(0n);
    expect(again.list()).toEqual(['new']);
    await expect(again.read('old')).rejects.toMatchObject({ code: StreamErrorCode.NOT_FOUND });
    expect((await again.read('new')).records).toHaveLength(2);
    expect((await again.create('newer')).info.id).toBeGreaterThan(again.metadata('new').id);
    await again.shutdown();
  });
});
