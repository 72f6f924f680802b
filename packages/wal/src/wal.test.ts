import { Errno, isWalError, WalError, WalErrorCode } from '@walnut/codec';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { openFakeWal } from '../test/fake-engine.js';
import { Batch } from './batch.js';

const payload = (i: number) => Buffer.from(`record-${i}`);
const settled = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('Wal: ordering under concurrency', () => {
  it('gives thousands of concurrent appends contiguous LSNs in call order', async () => {
    const { wal, engine } = await openFakeWal();
    const n = 5000;
    const promises = Array.from({ length: n }, (_, i) => wal.append(payload(i)));
    const lsns = await Promise.all(promises);
    expect(lsns).toEqual(Array.from({ length: n }, (_, i) => BigInt(i + 1)));
    expect(engine.records.map((r) => r.payload.toString())).toEqual(
      Array.from({ length: n }, (_, i) => `record-${i}`),
    );
    // One group commit served them all (one fdatasync), not one per append.
    expect(engine.syncCalls).toBe(1);
    await wal.close();
  });

  it('fills the next group while one sync is in flight', async () => {
    const { wal, engine } = await openFakeWal();
    const producers = 64;
    const perProducer = 50;
    const seen: bigint[] = [];
    await Promise.all(
      Array.from({ length: producers }, async () => {
        for (let i = 0; i < perProducer; i++) seen.push(await wal.append(payload(i)));
      }),
    );
    expect(new Set(seen).size).toBe(producers * perProducer);
    expect(engine.syncCalls).toBeLessThanOrEqual(perProducer + 2);
    expect(wal.stats().recordsPerSync).toBeGreaterThan(30);
    await wal.close();
  });

  it('keeps producers that append again from callbacks of their own in one group', async () => {
    // Each producer appends from a setImmediate callback, as one prompted by I/O would: a
    // burst of one append each. The first must not start a commit that leaves the rest to
    // the one after it, round after round.
    const { wal, engine } = await openFakeWal();
    const producers = 8;
    const rounds = 40;
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let i = 0; i < rounds; i++) {
          await tick();
          await wal.append(payload(p * rounds + i));
        }
      }),
    );
    expect(engine.syncCalls).toBeLessThanOrEqual(rounds + 2);
    expect(wal.stats().recordsPerSync).toBeGreaterThan(producers - 1);
    await wal.close();
  });

  it('starts the commit of a lone caller awaiting each append at once', async () => {
    const { wal, engine } = await openFakeWal();
    for (let i = 0; i < 20; i++) {
      const appended = wal.append(payload(i));
      // The commit starts within this turn of the event loop, not at the end of it.
      const submitted = await new Promise((resolve) =>
        setImmediate(() => resolve(engine.submittedLsn)),
      );
      expect(submitted).toBe(BigInt(i + 1));
      await appended;
    }
    await wal.close();
  });

  it('appends a batch atomically and resolves with its last LSN', async () => {
    const { wal, engine } = await openFakeWal();
    await wal.append(payload(0));
    const batch = new Batch().add(payload(1)).add(payload(2), Buffer.from('m')).add(payload(3));
    expect(await wal.appendBatch(batch)).toBe(4n);
    expect(engine.records.map((r) => r.lsn)).toEqual([1n, 2n, 3n, 4n]);
    await expectWalError(wal.appendBatch(batch), 'WAL_BAD_STATE');
    await expectWalError(wal.appendBatch(new Batch()), 'WAL_BAD_ARGUMENT');
    await wal.close();
  });

  it('refuses anything but a Batch with WAL_BAD_ARGUMENT, without consuming an LSN', async () => {
    const { wal } = await openFakeWal();
    // An array is what SegmentedWal.appendBatch takes, one layer down.
    const notBatches = [[Buffer.from('a')], undefined, { payload: Buffer.from('a') }];
    for (const notBatch of notBatches) {
      const appended = wal.appendBatch(notBatch as unknown as Batch);
      await expect(appended).rejects.toBeInstanceOf(WalError);
      expect(await expectWalError(appended, 'WAL_BAD_ARGUMENT')).toMatchObject({
        message: expect.stringContaining('new Batch().add(payload)'),
      });
    }
    expect(await wal.append(payload(1))).toBe(1n);
    await wal.close();
  });

  it('takes a Batch built by another installed copy of @walnut/wal', async () => {
    // A second instance of the module, as a library depending on its own version would load
    // (a query makes the test runner load the file again; a variable keeps tsc from resolving it).
    const anotherCopy = './batch.js?another-copy';
    const other = (await import(anotherCopy)) as typeof import('./batch.js');
    expect(other.Batch).not.toBe(Batch);
    const { wal, engine } = await openFakeWal();
    expect(await wal.appendBatch(new other.Batch().add(payload(1)).add(payload(2)))).toBe(2n);
    expect(engine.records.map((r) => r.lsn)).toEqual([1n, 2n]);
    await wal.close();
  });

  it('rejects a bad payload without consuming an LSN', async () => {
    const { wal } = await openFakeWal();
    await expectWalError(wal.append('text' as unknown as Buffer), 'WAL_BAD_ARGUMENT');
    expect(await wal.append(payload(1))).toBe(1n);
    await wal.close();
  });

  it.each([
    ['no object', null, 'record must be a record object, got null'],
    ['no payload', {}, 'record.payload must be a Uint8Array or Buffer, got undefined'],
    [
      'a string payload',
      { payload: 'p' },
      'record.payload must be a Uint8Array or Buffer, got "p"',
    ],
    [
      'a Proxy meta',
      { payload: Buffer.from('p'), meta: new Proxy(Buffer.from('m'), {}) },
      'record.meta must be a Uint8Array or Buffer, got an object that passes',
    ],
  ])(
    'refuses a record with %s, in appendRecord and Batch.addRecord alike',
    async (_, record, says) => {
      const { wal, engine } = await openFakeWal();
      await expect(wal.appendRecord(record as never)).rejects.toThrow(says);
      expect(() => new Batch().addRecord(record as never)).toThrow(says);
      expect(engine.nextLsn).toBe(1n);
      await wal.close();
    },
  );

  it.each([
    [
      'a string payload',
      ['text'],
      'payload was "text" (encode text first, e.g. Buffer.from(text))',
    ],
    ['a number payload', [42], 'payload was 42'],
    ['an ArrayBuffer payload', [new ArrayBuffer(4)], 'payload was an ArrayBuffer'],
    ['a string meta', [Buffer.from('p'), 'm'], 'meta was "m" (encode text first'],
  ])('says what was wrong with %s, and how to pass bytes', async (_, args, says) => {
    const { wal } = await openFakeWal({ durability: 'none' });
    const call = args as unknown as [Uint8Array, Uint8Array?];
    await expect(wal.append(...call)).rejects.toThrow(says);
    expect(() => wal.appendQueued(...call)).toThrow(says);
    await wal.close();
  });
});

describe('Wal: durability modes', () => {
  it("'sync' resolves only after a sync covering the record", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'sync' });
    engine.hold = true;
    const pending = settled(wal.append(payload(1)));
    await tick();
    await tick();
    expect(engine.syncCalls).toBe(1);
    let done = false;
    void pending.then(() => {
      done = true;
    });
    await tick();
    expect(done).toBe(false);
    engine.release();
    expect(await pending).toEqual({ ok: true, value: 1n });
    expect(wal.durableLsn).toBe(1n);
    await wal.close();
  });

  it("'flush' resolves after the write reached the OS, without fdatasync", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'flush' });
    const lsns = await Promise.all([wal.append(payload(1)), wal.append(payload(2))]);
    expect(lsns).toEqual([1n, 2n]);
    expect(engine.writtenLsn).toBe(2n);
    expect(engine.syncCalls).toBe(0);
    expect(engine.flushCalls).toBe(1);
    await wal.close();
  });

  it("'none' resolves as soon as the record is queued and writes it in the background", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    expect(await wal.append(payload(1))).toBe(1n);
    expect(engine.writtenLsn).toBe(0n);
    await tick();
    await tick();
    expect(engine.writtenLsn).toBe(1n);
    expect(engine.syncCalls).toBe(0);
    expect(await wal.sync()).toBe(1n);
    await wal.close();
  });

  it("'interval' syncs in the background every syncIntervalMs", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'interval', syncIntervalMs: 10 });
    expect(await wal.append(payload(1))).toBe(1n);
    expect(engine.durableLsn).toBe(0n);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(engine.durableLsn).toBe(1n);
    await wal.close();
  });

  it('flush() and sync() cover everything appended before them', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    for (let i = 0; i < 10; i++) void wal.append(payload(i));
    expect(await wal.flush()).toBe(10n);
    expect(await wal.sync()).toBe(10n);
    expect(engine.durableLsn).toBe(10n);
    await wal.close();
  });
});

describe('Wal: backpressure (queue bounded by bytes)', () => {
  it("'block' makes appends wait for room, then admits them in call order", async () => {
    const { wal, engine } = await openFakeWal({ maxQueueBytes: 100, backpressure: 'block' });
    engine.hold = true;
    const promises = Array.from({ length: 10 }, () => wal.append(Buffer.alloc(20)));
    expect(wal.stats().queueBytes).toBe(100);
    expect(wal.stats().blockedAppends).toBe(5);
    expect(engine.nextLsn).toBe(6n);
    await tick();
    engine.release();
    engine.hold = false;
    expect(await Promise.all(promises)).toEqual(
      Array.from({ length: 10 }, (_, i) => BigInt(i + 1)),
    );
    expect(wal.stats()).toMatchObject({ queueBytes: 0, blockedAppends: 0 });
    await wal.close();
  });

  it("'error' fails appends over the bound with WAL_BACKPRESSURE and consumes no LSN", async () => {
    const { wal, engine } = await openFakeWal({ maxQueueBytes: 100, backpressure: 'error' });
    engine.hold = true;
    const accepted = Array.from({ length: 5 }, () => wal.append(Buffer.alloc(20)));
    await expectWalError(wal.append(Buffer.alloc(20)), 'WAL_BACKPRESSURE');
    await tick();
    engine.release();
    engine.hold = false;
    expect(await Promise.all(accepted)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(await wal.append(Buffer.alloc(20))).toBe(6n);
    await wal.close();
  });

  it('admits a record larger than the bound once the queue is empty', async () => {
    const { wal } = await openFakeWal({ maxQueueBytes: 10 });
    expect(await wal.append(Buffer.alloc(50))).toBe(1n);
    await wal.close();
  });
});

describe('Wal: failures', () => {
  it('a failed fdatasync poisons the log: its group may be in the log (WAL_OUTCOME_UNKNOWN), later appends are not', async () => {
    const { wal, engine } = await openFakeWal();
    const eio = new WalError(WalErrorCode.IO, 'fdatasync: EIO', { details: { errno: Errno.EIO } });
    engine.hold = true;
    const group = Array.from({ length: 20 }, (_, i) =>
      expectWalError(wal.append(payload(i)), 'WAL_OUTCOME_UNKNOWN'),
    );
    await tick();
    expect(engine.syncCalls).toBe(1);
    const next = Array.from({ length: 5 }, (_, i) =>
      expectWalError(wal.append(payload(i)), 'WAL_POISONED'),
    );
    engine.failNext = { error: eio };
    engine.release();
    for (const [i, error] of (await Promise.all(group)).entries()) {
      // Their bytes went to the OS before the fdatasync failed: in the log or not, unknown.
      expect(error).toMatchObject({ details: { lsn: BigInt(i + 1) }, cause: eio });
    }
    await Promise.all(next);
    await expectWalError(wal.append(payload(99)), 'WAL_POISONED');
    await expectWalError(wal.sync(), 'WAL_POISONED');
    expect(wal.stats().poisoned).toBe(true);
    await wal.close();
  });

  it('ENOSPC rejects only the rolled-back records; the log goes on', async () => {
    const { wal, engine } = await openFakeWal();
    expect(await wal.append(payload(1))).toBe(1n);
    engine.hold = true;
    const lost = [settled(wal.append(payload(2))), settled(wal.append(payload(3)))];
    await tick();
    engine.failNext = {
      error: new WalError(WalErrorCode.NO_SPACE, 'disk full'),
      rollbackTo: 2n,
    };
    engine.release();
    for (const result of await Promise.all(lost)) {
      expect(!result.ok && isWalError(result.error, 'WAL_NO_SPACE')).toBe(true);
    }
    expect(wal.lastLsn).toBe(1n);
    expect(await wal.append(payload(4))).toBe(2n);
    await wal.close();
  });

  it("ENOSPC that loses already-acknowledged records ('none') poisons the log", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    engine.hold = true;
    expect(await wal.append(payload(1))).toBe(1n);
    const flushing = settled(wal.flush());
    await tick();
    engine.failNext = { error: new WalError(WalErrorCode.NO_SPACE, 'disk full'), rollbackTo: 1n };
    engine.release();
    expect((await flushing).ok).toBe(false);
    await expectWalError(wal.append(payload(2)), 'WAL_POISONED');
    await wal.close();
  });
});

describe('Wal: lifecycle', () => {
  it('goes running → draining → closed; shutdown drains, syncs once more and closes', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    expect(wal.state).toBe('running');
    const acks = Array.from({ length: 100 }, (_, i) => wal.append(payload(i)));
    const shutdown = wal.shutdown(1000);
    expect(wal.state).toBe('draining');
    await expectWalError(wal.append(payload(0)), 'WAL_CLOSING');
    await shutdown;
    expect(wal.state).toBe('closed');
    expect(engine.closed).toBe(true);
    expect(engine.durableLsn).toBe(100n);
    expect((await Promise.all(acks)).at(-1)).toBe(100n);
    await expectWalError(wal.append(payload(0)), 'WAL_CLOSED');
    await wal.shutdown(10);
    await wal.close();
  });

  it('a timed-out shutdown fails with WAL_TIMEOUT and leaves the log running and usable', async () => {
    const { wal, engine } = await openFakeWal();
    engine.hold = true;
    const first = wal.append(payload(1));
    await expectWalError(wal.shutdown(30), 'WAL_TIMEOUT');
    expect(wal.state).toBe('running');
    expect(engine.closed).toBe(false);
    engine.release();
    expect(await first).toBe(1n);
    expect(await wal.append(payload(2))).toBe(2n);
    await wal.shutdown(1000);
    expect(engine.closed).toBe(true);
  });

  it("an aborted shutdown rejects with the signal's reason and leaves the log running and usable", async () => {
    const { wal, engine } = await openFakeWal();
    engine.hold = true;
    const first = wal.append(payload(1));
    const stop = new AbortController();
    const shutdown = wal.shutdown(Number.POSITIVE_INFINITY, { signal: stop.signal });
    expect(wal.state).toBe('draining');
    stop.abort();
    await expect(shutdown).rejects.toMatchObject({ name: 'AbortError' });
    expect(wal.state).toBe('running');
    const aborted = AbortSignal.abort(new Error('not now'));
    await expect(wal.shutdown(1000, { signal: aborted })).rejects.toThrow('not now');
    expect(wal.state).toBe('running');
    engine.release();
    expect(await first).toBe(1n);
    await wal.shutdown(1000);
    expect(engine.closed).toBe(true);
  });

  it('shutdown(Infinity) waits for the drain without a deadline; NaN and -1 are refused', async () => {
    const { wal, engine } = await openFakeWal();
    engine.hold = true;
    const first = wal.append(payload(1));
    const shutdown = settled(wal.shutdown(Number.POSITIVE_INFINITY));
    // Past the 1 ms that setTimeout makes of a delay it cannot hold.
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(wal.state).toBe('draining');
    engine.release();
    expect(await first).toBe(1n);
    expect((await shutdown).ok).toBe(true);
    expect(engine.closed).toBe(true);
    for (const timeoutMs of [Number.NaN, -1]) {
      const { wal: other } = await openFakeWal();
      await expectWalError(other.shutdown(timeoutMs), 'WAL_BAD_ARGUMENT');
      await other.close();
    }
  });

  it('a shutdown whose final sync fails closes the poisoned log and reports the failure', async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    await wal.append(payload(1));
    engine.failNext = { error: new WalError(WalErrorCode.IO, 'fdatasync: EIO') };
    await expectWalError(wal.shutdown(1000), 'WAL_IO');
    expect(wal.state).toBe('closed');
    expect(engine.closed).toBe(true);
  });

  it('maxGroupWaitMs gathers appends spread over time into one group', async () => {
    const { wal, engine } = await openFakeWal({ maxGroupWaitMs: 40 });
    const first = wal.append(payload(1));
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = wal.append(payload(2));
    expect(await Promise.all([first, second])).toEqual([1n, 2n]);
    expect(engine.syncCalls).toBe(1);
    await wal.close();
  });

  it('concurrent shutdown calls share one attempt', async () => {
    const { wal } = await openFakeWal();
    void wal.append(payload(1));
    const a = wal.shutdown(1000);
    expect(wal.shutdown(1000)).toBe(a);
    await a;
  });

  it('close() rejects every pending append with WAL_CLOSED, even if its sync completes later', async () => {
    const { wal, engine } = await openFakeWal();
    engine.hold = true;
    const pending = Array.from({ length: 50 }, (_, i) => settled(wal.append(payload(i))));
    const blockedByClose = wal.close();
    engine.release();
    for (const result of await Promise.all(pending)) {
      expect(!result.ok && isWalError(result.error, 'WAL_CLOSED')).toBe(true);
    }
    await blockedByClose;
    expect(wal.state).toBe('closed');
    expect(engine.closed).toBe(true);
    expect(wal.close()).toBe(blockedByClose);
    await wal.shutdown(10);
  });

  it('close() during a shutdown makes the shutdown fail with WAL_CLOSED', async () => {
    const { wal, engine } = await openFakeWal();
    engine.hold = true;
    void wal.append(payload(1)).catch(() => undefined);
    const shutdown = settled(wal.shutdown(5000));
    await wal.close();
    engine.release();
    const result = await shutdown;
    expect(!result.ok && isWalError(result.error, 'WAL_CLOSED')).toBe(true);
  });
});

describe('Wal: tail', () => {
  it('yields existing durable records, then new ones as they become durable', async () => {
    const { wal } = await openFakeWal();
    await wal.append(payload(1));
    await wal.append(payload(2));
    const seen: string[] = [];
    const controller = new AbortController();
    const following = (async () => {
      for await (const record of wal.tail(2n, { signal: controller.signal })) {
        seen.push(`${record.lsn}:${record.payload}`);
        if (seen.length === 3) break;
      }
    })();
    await wal.append(payload(3));
    await wal.append(payload(4));
    await following;
    expect(seen).toEqual(['2:record-2', '3:record-3', '4:record-4']);
    await wal.close();
  });

  it("rejects with the signal's reason (an AbortError) when aborted while waiting", async () => {
    const { wal } = await openFakeWal();
    const controller = new AbortController();
    const seen: bigint[] = [];
    const following = (async () => {
      for await (const record of wal.tail(1n, { signal: controller.signal })) seen.push(record.lsn);
    })();
    await tick();
    controller.abort();
    await expect(following).rejects.toMatchObject({ name: 'AbortError' });
    expect(seen).toEqual([]);
    await wal.close();
  });

  it('rejects with the reason the signal was aborted with, also when aborted before the first record', async () => {
    const { wal } = await openFakeWal();
    await wal.append(payload(1));
    const reason = new Error('consumer stopping');
    const controller = new AbortController();
    controller.abort(reason);
    await expect(wal.tail(1n, { signal: controller.signal }).next()).rejects.toBe(reason);
    await wal.close();
  });

  it('ends when the log closes', async () => {
    const { wal } = await openFakeWal();
    await wal.append(payload(1));
    const following = (async () => {
      let count = 0;
      for await (const _ of wal.tail(1n)) count++;
      return count;
    })();
    await tick();
    await wal.close();
    expect(await following).toBe(1);
  });
});

describe('Wal: where reading starts', () => {
  const missing = undefined as unknown as bigint;
  const numeric = 1 as unknown as bigint;

  it('refuses a from that is missing, a number, negative or past 2^64-1, in replay, iterator and tail', async () => {
    const { wal } = await openFakeWal();
    await wal.append(payload(1));
    for (const from of [missing, numeric, -1n, 2n ** 64n]) {
      expect(
        await expectWalError(
          wal.replay(from, () => undefined),
          'WAL_BAD_ARGUMENT',
        ),
      ).toMatchObject({ message: expect.stringContaining('replay(from)') });
      expect(expectWalError(() => wal.iterator(from), 'WAL_BAD_ARGUMENT')).toMatchObject({
        message: expect.stringContaining('1n'),
      });
      await expectWalError(wal.tail(from).next(), 'WAL_BAD_ARGUMENT');
    }
    await wal.close();
  });

  it('reads every record from 0n as from 1n', async () => {
    const { wal } = await openFakeWal();
    for (let i = 1; i <= 3; i++) await wal.append(payload(i));
    for (const from of [0n, 1n]) {
      const lsns: bigint[] = [];
      await wal.replay(from, (record) => {
        lsns.push(record.lsn);
      });
      for await (const record of wal.iterator(from)) lsns.push(record.lsn);
      expect(lsns).toEqual([1n, 2n, 3n, 1n, 2n, 3n]);
    }
    await wal.close();
  });

  it('refuses replay without a callback', async () => {
    const { wal } = await openFakeWal();
    expect(
      await expectWalError(wal.replay(1n, undefined as unknown as () => void), 'WAL_BAD_ARGUMENT'),
    ).toMatchObject({ message: expect.stringContaining('fn') });
    await wal.close();
  });
});

describe('Wal: stats', () => {
  it('counts appends, batches, bytes, syncs and commit latency', async () => {
    const { wal } = await openFakeWal();
    await Promise.all([wal.append(Buffer.alloc(10)), wal.append(Buffer.alloc(5))]);
    await wal.appendBatch(new Batch().add(Buffer.alloc(1)).add(Buffer.alloc(2)));
    const stats = wal.stats();
    expect(stats).toMatchObject({
      state: 'running',
      durability: 'sync',
      appends: 2,
      batches: 1,
      records: 4,
      bytes: 18,
      queueBytes: 0,
      lastLsn: 4n,
      durableLsn: 4n,
      poisoned: false,
    });
    expect(stats.syncs).toBe(2);
    expect(stats.recordsPerSync).toBe(2);
    expect(stats.commitLatencyMicros.count).toBe(3);
    expect(stats.commitLatencyMicros.p99).toBeGreaterThan(0);
    expect(stats.backend.name).toBe('memory');
    await wal.close();
  });

  it('goes through JSON.stringify, as a health endpoint sends it, with the LSNs as strings', async () => {
    const { wal } = await openFakeWal();
    await wal.append(Buffer.alloc(3));
    const stats = wal.stats();
    const sent = JSON.parse(JSON.stringify(stats));
    expect(sent).toMatchObject({ state: 'running', records: 1, lastLsn: '1', durableLsn: '1' });
    expect(Object.keys(sent)).toEqual(Object.keys(stats));
    expect(Object.keys(stats)).not.toContain('toJSON');
    await wal.close();
  });
});

describe('Wal: a caller may reuse its buffers once append returns', () => {
  it('keeps what a blocked append was given, not what the caller later wrote into its buffer', async () => {
    const { wal, engine } = await openFakeWal({ maxQueueBytes: 64, backpressure: 'block' });
    engine.hold = true;
    const buffer = Buffer.alloc(32);
    const meta = Buffer.alloc(4);
    const promises: Promise<bigint>[] = [];
    for (let i = 0; i < 8; i++) {
      buffer.fill(i);
      meta.fill(100 + i);
      promises.push(wal.append(buffer, meta));
      const batch = new Batch().add(buffer);
      promises.push(wal.appendBatch(batch));
    }
    expect(wal.stats().blockedAppends).toBeGreaterThan(0);
    buffer.fill(0xee);
    meta.fill(0xee);
    await tick();
    engine.release();
    engine.hold = false;
    await Promise.all(promises);
    expect(engine.records.map((r) => r.payload[0])).toEqual(
      Array.from({ length: 8 }, (_, i) => [i, i]).flat(),
    );
    await wal.close();
  });
});
