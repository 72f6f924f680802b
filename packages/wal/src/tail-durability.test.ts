import { join } from 'node:path';
import type { WalRecord } from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import type { Durability } from './options.js';
import { Wal } from './wal.js';

/**
 * What a tail follows under each durability mode: what the mode acknowledges (durable
 * records under 'sync', written ones otherwise), or only durable records with durableOnly.
 */
const root = tempDir('walnut-tail-durability-');
afterAll(removeTempDirs);
let dirs = 0;

async function open(durability: Durability): Promise<Wal> {
  return Wal.open(join(root, `log-${dirs++}`))
    .durability(durability)
    .options(durability === 'interval' ? { syncIntervalMs: 60_000 } : {})
    .build();
}

/** The LSNs a tail from 1 yields within `ms`, then stops it. */
async function tailedWithin(wal: Wal, ms: number, durableOnly = false): Promise<bigint[]> {
  const stop = new AbortController();
  const seen: bigint[] = [];
  const timer = setTimeout(() => stop.abort(), ms);
  try {
    for await (const record of wal.tail(1n, {
      signal: stop.signal,
      durableOnly,
    }) as AsyncIterable<WalRecord>) {
      seen.push(record.lsn);
    }
  } catch (error) {
    if (!stop.signal.aborted) throw error;
  } finally {
    clearTimeout(timer);
  }
  return seen;
}

describe('a tail follows what the durability mode acknowledges', () => {
  it.each(['flush', 'none', 'interval'] as const)(
    "under '%s' it yields records once written to the OS, with no sync() call",
    async (durability) => {
      const wal = await open(durability);
      const tailing = tailedWithin(wal, 500);
      for (let i = 0; i < 3; i++) await wal.append(Buffer.from(`record ${i}`));
      expect(await tailing).toEqual([1n, 2n, 3n]);
      expect(wal.durableLsn).toBe(0n);
      await wal.close();
    },
  );

  it.each(['flush', 'none', 'interval'] as const)(
    "under '%s' with durableOnly it yields nothing until sync() makes records durable",
    async (durability) => {
      const wal = await open(durability);
      for (let i = 0; i < 3; i++) await wal.append(Buffer.from(`record ${i}`));
      expect(await tailedWithin(wal, 200, true)).toEqual([]);
      await wal.sync();
      expect(await tailedWithin(wal, 200, true)).toEqual([1n, 2n, 3n]);
      await wal.close();
    },
  );

  it("under 'sync' it yields each record once durable", async () => {
    const wal = await open('sync');
    const tailing = tailedWithin(wal, 300);
    for (let i = 0; i < 3; i++) await wal.append(Buffer.from(`record ${i}`));
    expect(await tailing).toEqual([1n, 2n, 3n]);
    expect(wal.durableLsn).toBe(3n);
    await wal.close();
  });
});

describe('reading from 0n', () => {
  it('reads everything the log still keeps, after a truncation too; 1n is then below the floor', async () => {
    const wal = await Wal.open(join(root, `log-${dirs++}`))
      .segmentSize(4096)
      .build();
    for (let i = 0; i < 40; i++) await wal.append(Buffer.alloc(500, i));
    await wal.truncateBefore(30n);
    const floor = wal.floorLsn;
    expect(floor).toBeGreaterThan(1n);
    const lsns: bigint[] = [];
    await wal.replay(0n, (record) => {
      lsns.push(record.lsn);
    });
    expect(lsns[0]).toBe(floor);
    expect(lsns.at(-1)).toBe(40n);
    await expectWalError(
      wal.replay(1n, () => {}),
      'WAL_REPLAY_BELOW_FLOOR',
    );
    await wal.close();
  });
});

describe('tail and cursor records options', () => {
  it.each([
    ['null', null, /options must be an options object/],
    ['a number', 5, /options must be an options object/],
    ['a misspelt key', { sigal: new AbortController().signal }, /did you mean signal/],
    ['a signal that is no AbortSignal', { signal: {} }, /options.signal must be an AbortSignal/],
    ['durableOnly not a boolean', { durableOnly: 'yes' }, /durableOnly must be true or false/],
  ])(
    'refuse %s with WAL_BAD_ARGUMENT before reading, and appends go on unharmed',
    async (_, options, message) => {
      const wal = await open('sync');
      await wal.append(Buffer.from('one'));
      const bad = options as never;
      const refused = await expectWalError(wal.tail(1n, bad).next(), 'WAL_BAD_ARGUMENT');
      expect(refused.message).toMatch(message);
      const cursor = await wal.cursor('c');
      await expectWalError(cursor.records(bad).next(), 'WAL_BAD_ARGUMENT');
      expect(await wal.append(Buffer.from('two'))).toBe(2n);
      await wal.close();
    },
  );
});
