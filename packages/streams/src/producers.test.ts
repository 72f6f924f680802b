import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { WalErrorCode } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';
import { CHECKPOINT_FILE } from './checkpoint.js';
import { StreamErrorCode } from './errors.js';
import { Streams } from './streams.js';
import { newStream, restoreProducers } from './table.js';

const b = (s: string) => Buffer.from(s);
const TTL = 1_000;

/** Streams on a clock the test moves, forgetting producers idle for TTL. */
function clocked(dir = tempDir()) {
  const clock = { now: 1_000_000 };
  const open = () =>
    Streams.open(dir, { durability: 'flush', clock: () => clock.now, producerTtlMs: TTL });
  return { clock, open };
}

/** `clocked()`, opened, with stream 'a' created. */
async function withStream() {
  const { clock, open } = clocked();
  const s = await open();
  await s.create('a');
  return { clock, s };
}

const stamp = (seq: number, producerId = 'p', epoch = 0) => ({
  producer: { producerId, epoch, seq },
});

describe('a producer idle for producerTtlMs', () => {
  it('is remembered until then: a retry is still a duplicate', async () => {
    const { clock, s } = await withStream();
    await s.append('a', b('0'), stamp(0));
    await s.append('a', b('1'), stamp(1));
    clock.now += TTL - 1;
    expect(await s.append('a', b('1'), stamp(1))).toEqual({
      first: 1,
      tail: 2,
      duplicate: true,
      producerSeq: 1,
    });
    expect(s.metadata('a').tail).toBe(2);
    await s.shutdown();
  });

  it('is forgotten then: its next seq is a gap naming seq 0 and the ttl, and seq 0 starts afresh', async () => {
    const { clock, s } = await withStream();
    await s.append('a', b('0'), stamp(0));
    await s.append('a', b('1'), stamp(1));
    clock.now += TTL;
    const refused = s.append('a', b('2'), stamp(2));
    await expect(refused).rejects.toMatchObject({
      code: StreamErrorCode.SEQUENCE_GAP,
      details: { expectedSeq: 0, idleMs: TTL },
      message: expect.stringContaining('producerTtlMs is 1000'),
    });
    expect(s.metadata('a').tail).toBe(2);
    expect(await s.append('a', b('x'), stamp(0))).toEqual({
      first: 2,
      tail: 3,
      duplicate: false,
      producerSeq: 0,
    });
    // Its new state is the one kept: seq 0 again is a duplicate, seq 1 follows it.
    expect((await s.append('a', b('x'), stamp(0))).duplicate).toBe(true);
    expect((await s.append('a', b('y'), stamp(1))).first).toBe(3);
    await s.shutdown();
  });

  it('is judged the same after a reopen from the checkpoint and from the log alone', async () => {
    for (const crash of [false, true]) {
      const dir = tempDir();
      const { clock, open } = clocked(dir);
      const s = await open();
      await s.create('a');
      await s.append('a', b('0'), stamp(0, 'early'));
      clock.now += TTL / 2;
      await s.append('a', b('1'), stamp(0, 'late'));
      if (crash) {
        await s.log.shutdown();
        rmSync(join(dir, CHECKPOINT_FILE), { force: true });
      } else await s.shutdown();
      clock.now += TTL / 2;
      const again = await open();
      expect(again.recovery.replayedRecords).toBe(crash ? 3 : 0);
      await expect(again.append('a', b('0'), stamp(0, 'early'))).resolves.toMatchObject({
        duplicate: false,
        first: 2,
      });
      await expect(again.append('a', b('1'), stamp(0, 'late'))).resolves.toMatchObject({
        duplicate: true,
        first: 1,
      });
      await again.shutdown();
    }
  });

  it('counts for nothing in metadata once a checkpoint forgot it', async () => {
    const { clock, s } = await withStream();
    for (let i = 0; i < 10; i++) await s.append('a', b(`${i}`), stamp(0, `p${i}`));
    clock.now += TTL;
    await s.append('a', b('new'), stamp(0, 'fresh'));
    expect(s.metadata('a').producers).toBe(11);
    await s.checkpoint();
    expect(s.metadata('a').producers).toBe(1);
    await s.shutdown();
  });

  it('leaves room as new producers come, without a checkpoint: a stream keeps what is live', async () => {
    const { clock, s } = await withStream();
    // Waves of one-off producers, each idle past the ttl by the next wave.
    for (let wave = 0; wave < 5; wave++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, i) => s.append('a', b('x'), stamp(0, `w${wave}.${i}`))),
      );
      clock.now += TTL;
    }
    // A power-of-two count of known producers forgets the idle ones: never all 500.
    expect(s.metadata('a').producers).toBeLessThanOrEqual(2 * 100);
    expect(s.metadata('a').tail).toBe(500);
    await s.shutdown();
  });

  it('kept by an older image, without its last time, counts from the stream’s last touch', () => {
    const stream = newStream(1, 'a', 0, {});
    stream.touchedAt = 5_000;
    // What a compaction before producer expiry wrote: [id, epoch, lastSeq, results], no lastAt.
    restoreProducers(stream, [['old', 0, 3, [[3, 7, 8]]]]);
    expect(stream.producers.get('old')).toMatchObject({ lastSeq: 3, lastAt: 5_000 });
  });
});

describe('producerTtlMs', () => {
  it('must be a number of milliseconds above 0', async () => {
    for (const producerTtlMs of [0, -1, Number.NaN, '5' as unknown as number]) {
      await expect(Streams.open(tempDir(), { producerTtlMs })).rejects.toMatchObject({
        code: WalErrorCode.BAD_ARGUMENT,
        message: expect.stringContaining('producerTtlMs'),
      });
    }
  });
});
