import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';
import { StreamErrorCode } from './errors.js';
import { Streams } from './streams.js';
import type { StreamsOptions } from './streams-options.js';

const b = (s: string) => Buffer.from(s);
const texts = (records: { payload: Buffer }[]) => records.map((r) => r.payload.toString());
const code = (c: string) => expect.objectContaining({ code: c });

function open(dir: string, options: StreamsOptions = {}) {
  return Streams.open(dir, { durability: 'flush', checkpointEvery: 0, ...options });
}

/** Reopens `dir` replaying its records, or from a checkpoint taken at shutdown. */
async function reopen(dir: string, s: Streams, fromCheckpoint: boolean) {
  if (fromCheckpoint) {
    await s.checkpoint();
    await s.shutdown();
  } else await s.log.shutdown();
  return open(dir);
}

describe('a create with its first records and a close', () => {
  it('is one log record, read back as the stream, closed', async () => {
    const dir = tempDir();
    const s = await open(dir);
    const before = s.log.lastLsn;
    const made = await s.create(
      'a',
      { contentType: 'text/plain' },
      { payloads: [b('x'), b('y')], close: true },
    );
    expect(s.log.lastLsn).toBe(before + 1n);
    expect(made.info).toMatchObject({ tail: 2, closed: true, bytes: 2 });
    expect(texts((await s.read('a')).records)).toEqual(['x', 'y']);
    await expect(s.append('a', b('z'))).rejects.toEqual(code(StreamErrorCode.CLOSED));
    const replayed = await reopen(dir, s, false);
    expect(replayed.metadata('a')).toMatchObject({ tail: 2, closed: true });
    expect(texts((await replayed.read('a')).records)).toEqual(['x', 'y']);
    const checkpointed = await reopen(dir, replayed, true);
    expect(checkpointed.recovery.replayedRecords).toBe(0);
    expect(checkpointed.metadata('a')).toMatchObject({ tail: 2, closed: true });
    expect(texts((await checkpointed.read('a')).records)).toEqual(['x', 'y']);
    await checkpointed.shutdown();
  });

  it('of an existing stream with the same configuration writes nothing', async () => {
    const s = await open(tempDir());
    await s.create('a', {}, { payloads: b('first') });
    const before = s.log.lastLsn;
    expect((await s.create('a', {}, { payloads: b('again'), close: true })).created).toBe(false);
    expect(s.log.lastLsn).toBe(before);
    expect(s.metadata('a')).toMatchObject({ tail: 1, closed: false });
    await s.shutdown();
  });
});

describe('an append that closes the stream', () => {
  it('is one log record: its records and the close survive a restart together', async () => {
    const dir = tempDir();
    const s = await open(dir);
    await s.create('a');
    const before = s.log.lastLsn;
    expect(await s.append('a', [b('1'), b('2')], { close: true })).toEqual({
      first: 0,
      tail: 2,
      duplicate: false,
    });
    expect(s.log.lastLsn).toBe(before + 1n);
    expect((await s.read('a')).end).toBe(true);
    await expect(s.append('a', b('3'))).rejects.toEqual(code(StreamErrorCode.CLOSED));
    const again = await reopen(dir, s, false);
    expect(again.metadata('a')).toMatchObject({ tail: 2, closed: true });
    await again.shutdown();
  });
});

describe('a stream seq', () => {
  it('must sort above the last one, and nothing is written when it does not', async () => {
    const s = await open(tempDir());
    await s.create('a');
    await s.append('a', b('1'), { streamSeq: 'b' });
    await expect(s.append('a', b('2'), { streamSeq: 'a' })).rejects.toEqual(
      expect.objectContaining({
        code: StreamErrorCode.SEQ_CONFLICT,
        details: { stream: 'a', streamSeq: 'a', lastStreamSeq: 'b' },
      }),
    );
    await expect(s.append('a', b('2'), { streamSeq: 'b' })).rejects.toEqual(
      code(StreamErrorCode.SEQ_CONFLICT),
    );
    expect(s.metadata('a')).toMatchObject({ tail: 1, streamSeq: 'b' });
    await s.shutdown();
  });

  it.each([false, true])('survives a restart (from a checkpoint: %s)', async (fromCheckpoint) => {
    const dir = tempDir();
    const s = await open(dir);
    await s.create('a');
    await s.append('a', b('1'), { streamSeq: '0005' });
    const again = await reopen(dir, s, fromCheckpoint);
    expect(again.metadata('a').streamSeq).toBe('0005');
    await expect(again.append('a', b('2'), { streamSeq: '0004' })).rejects.toEqual(
      code(StreamErrorCode.SEQ_CONFLICT),
    );
    await again.append('a', b('2'), { streamSeq: '0006' });
    await again.shutdown();
  });
});

describe('touchedAt', () => {
  it.each([false, true])(
    'is the time of the last append or touch, across a restart (from a checkpoint: %s)',
    async (fromCheckpoint) => {
      const dir = tempDir();
      let now = 1_000_000;
      const clock = () => now;
      const s = await open(dir, { clock });
      await s.create('a');
      expect(s.metadata('a').touchedAt).toBe(1_000_000);
      now += 5000;
      await s.append('a', b('1'));
      expect(s.metadata('a').touchedAt).toBe(1_005_000);
      now += 7000;
      await s.touch('a');
      expect(s.metadata('a').touchedAt).toBe(1_012_000);
      if (fromCheckpoint) await s.shutdown();
      else await s.log.shutdown();
      now += 60_000;
      const again = await open(dir, { clock });
      expect(again.metadata('a').touchedAt).toBe(1_012_000);
      await again.shutdown();
    },
  );
});
