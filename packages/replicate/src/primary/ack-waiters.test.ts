import { getEventListeners } from 'node:events';
import { expectWalError } from '@walnut/storage-io/testing';
import { WalError, WalErrorCode } from '@walnut/wal';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { AckWaiters } from './ack-waiters.js';
import { Fencing } from './fencing.js';

describe('the waiters for replication acks', () => {
  const progress = { replicatedLsn: 0n };
  let fencing: Fencing;
  let acks: AckWaiters;
  const timeout = (at: bigint): Error => new Error(`timed out at ${at}`);

  beforeEach(() => {
    vi.useFakeTimers();
    progress.replicatedLsn = 0n;
    fencing = new Fencing('orders');
    acks = new AckWaiters(progress, fencing);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('resolve at once for an LSN the stream already holds', async () => {
    progress.replicatedLsn = 5n;
    await expect(acks.waitFor(5n, 1_000, timeout)).resolves.toBe(5n);
  });

  it('resolve each waiter with its own LSN once the stream holds it, and no later one', async () => {
    const settled: bigint[] = [];
    for (const lsn of [3n, 1n, 2n, 4n])
      void acks.waitFor(lsn, 1_000, timeout).then((l) => settled.push(l));
    progress.replicatedLsn = 3n;
    acks.replicated(3n);
    await vi.advanceTimersByTimeAsync(0);
    expect(settled).toEqual([1n, 2n, 3n]);
  });

  it('reject with the timeout error naming how far the stream got', async () => {
    const waiting = acks.waitFor(7n, 1_000, timeout);
    progress.replicatedLsn = 6n;
    vi.advanceTimersByTime(1_000);
    await expect(waiting).rejects.toThrow('timed out at 6');
    acks.replicated(7n);
  });

  it('reject every waiter with the error given', async () => {
    const waiting = [acks.waitFor(1n, 1_000, timeout), acks.waitFor(2n, 1_000, timeout)];
    acks.rejectAll(new WalError(WalErrorCode.CLOSED, 'closed'));
    for (const w of waiting) await expectWalError(w, 'WAL_CLOSED');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('reject with the fencing error naming each LSN once fenced, and refuse new waits', async () => {
    const waiting = acks.waitFor(2n, 1_000, timeout);
    fencing.fence(2, 'the primary lease was taken at epoch 2', 0n, 2n);
    fencing.settle(0n, 2n);
    acks.rejectAll(null);
    expect(await expectWalError(waiting, 'WAL_FENCED')).toMatchObject({ details: { lsn: 2n } });
    expect(await expectWalError(acks.waitFor(3n, 1_000, timeout), 'WAL_FENCED')).toMatchObject({
      details: { lsn: 3n, unreplicated: { from: 1n, to: 2n } },
    });
  });

  it('keep waiting between the takeover and the look at the stream, which decides', async () => {
    const stored = acks.waitFor(2n, 1_000, timeout);
    const lost = acks.waitFor(3n, 1_000, timeout);
    fencing.fence(2, 'the primary lease was taken at epoch 2', 0n, 3n);
    const during = acks.waitFor(2n, 1_000, timeout);
    fencing.settle(2n, 3n);
    progress.replicatedLsn = 2n;
    acks.replicated(2n);
    acks.rejectAll(null);
    await expect(stored).resolves.toBe(2n);
    await expect(during).resolves.toBe(2n);
    expect(await expectWalError(lost, 'WAL_FENCED')).toMatchObject({
      details: { lsn: 3n, unreplicated: { from: 3n, to: 3n } },
    });
  });

  it("reject with the signal's reason once it aborts, and forget the waiter", async () => {
    const stop = new AbortController();
    const waiting = acks.waitFor(4n, 1_000, timeout, stop.signal);
    const other = acks.waitFor(4n, 1_000, timeout);
    stop.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    progress.replicatedLsn = 4n;
    acks.replicated(4n);
    await expect(other).resolves.toBe(4n);
  });

  it('reject at once for a signal already aborted, with the reason it was given', async () => {
    const reason = new Error('the caller gave up');
    progress.replicatedLsn = 5n;
    await expect(acks.waitFor(5n, 1_000, timeout, AbortSignal.abort(reason))).rejects.toBe(reason);
  });

  it('let go of the signal once the wait is settled otherwise', async () => {
    const stop = new AbortController();
    const waiting = acks.waitFor(1n, 1_000, timeout, stop.signal);
    const timedOut = acks.waitFor(2n, 1_000, timeout, stop.signal);
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(2);
    progress.replicatedLsn = 1n;
    acks.replicated(1n);
    await expect(waiting).resolves.toBe(1n);
    vi.advanceTimersByTime(1_000);
    await expect(timedOut).rejects.toThrow('timed out at 1');
    expect(getEventListeners(stop.signal, 'abort')).toHaveLength(0);
  });
});
