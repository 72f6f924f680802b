import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { Wal } from './index.js';

const T0 = Date.UTC(2026, 10, 24, 10);
afterEach(removeTempDirs);

describe('Wal record times', () => {
  it('hands out r.time on replay, iterator and tail, and finds LSNs by time, read-only too', async () => {
    const dir = tempDir('walnut-time-');
    let now = T0;
    const wal = await Wal.open(dir)
      .clock(() => now)
      .segmentSize(4096)
      .build();
    for (let i = 0; i < 60; i++) {
      now += i === 30 ? -5_000 : 10; // one step back: times hold still, never go back
      await wal.append(Buffer.alloc(100, i));
    }
    const replayed: number[] = [];
    await wal.replay(1n, (r) => {
      replayed.push(r.time!);
    });
    expect(replayed.length).toBe(60);
    for (let i = 1; i < 60; i++) expect(replayed[i]!).toBeGreaterThanOrEqual(replayed[i - 1]!);
    const iterated: number[] = [];
    for await (const r of wal.iterator(1n)) iterated.push(r.time!);
    expect(iterated).toEqual(replayed);
    const tail = wal.tail(60n);
    expect((await tail.next()).value.time).toBe(replayed[59]);
    await tail.return?.();
    expect(await wal.lsnAtTime(T0)).toBe(1n);
    expect(await wal.lsnAtTime(T0 + 101)).toBe(11n);
    expect(await wal.lsnAtTime(T0 + 10_000)).toBe(61n);
    const reader = await Wal.open(dir).readOnly().build();
    expect(await reader.lsnAtTime(T0 + 101)).toBe(11n);
    await reader.close();
    await wal.close();
  });

  it('a clock that throws fails that append with WAL_BAD_ARGUMENT; the log stays usable', async () => {
    const dir = tempDir('walnut-time-');
    let broken = false;
    const clock = () => {
      if (broken) throw new Error('clock broke');
      return Date.now();
    };
    const wal = await Wal.open(dir).clock(clock).build();
    expect(await wal.append(Buffer.from('one'))).toBe(1n);
    broken = true;
    await expect(wal.append(Buffer.from('lost'))).rejects.toMatchObject({
      code: 'WAL_BAD_ARGUMENT',
      message: expect.stringContaining('clock broke'),
    });
    expect(() => wal.appendQueued(Buffer.from('lost too'))).toThrowError(
      expect.objectContaining({ code: 'WAL_BAD_ARGUMENT' }),
    );
    broken = false;
    expect(wal.stats().poisoned).toBe(false);
    expect(await wal.append(Buffer.from('two'))).toBe(2n);
    await wal.close();
    const payloads: string[] = [];
    const again = await Wal.open(dir).build();
    await again.replay(1n, (r) => {
      payloads.push(r.payload.toString());
    });
    expect(payloads).toEqual(['one', 'two']);
    await again.close();
  });
});
