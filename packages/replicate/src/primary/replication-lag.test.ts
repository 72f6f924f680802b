import { describe, expect, it, vi } from 'vitest';
import { ReplicationLag } from './replication-lag.js';

describe('the replication lag', () => {
  it('count the bytes of appends the stream does not hold yet', () => {
    const lag = new ReplicationLag();
    lag.mark(1n, 10, 0n);
    lag.mark(3n, 20, 0n);
    expect(lag.bytes).toBe(30);
    lag.replicated(1n);
    expect(lag.bytes).toBe(20);
    lag.replicated(3n);
    expect(lag.bytes).toBe(0);
  });

  it('count nothing for an append the stream already held', () => {
    const lag = new ReplicationLag();
    lag.mark(4n, 10, 4n);
    expect(lag.bytes).toBe(0);
    expect(lag.ms).toBe(0);
  });

  it('age the oldest unreplicated append', () => {
    vi.useFakeTimers();
    try {
      const lag = new ReplicationLag();
      lag.mark(1n, 1, 0n);
      vi.advanceTimersByTime(50);
      lag.mark(2n, 1, 0n);
      expect(lag.ms).toBe(50);
      lag.replicated(1n);
      expect(lag.ms).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keep counting right past many replicated appends', () => {
    const lag = new ReplicationLag();
    for (let lsn = 1n; lsn <= 10_000n; lsn++) lag.mark(lsn, 1, 0n);
    lag.replicated(6_000n);
    expect(lag.bytes).toBe(4_000);
    lag.mark(10_001n, 5, 6_000n);
    lag.replicated(9_999n);
    expect(lag.bytes).toBe(6);
  });

  it('wake the appends waiting for room', async () => {
    const lag = new ReplicationLag();
    let woken = 0;
    const waiting = [lag.room(), lag.room()].map((p) => p.then(() => woken++));
    expect(woken).toBe(0);
    lag.wake();
    await Promise.all(waiting);
    expect(woken).toBe(2);
  });

  it('hold the bytes of admitted appends until they are appended or fail', () => {
    const lag = new ReplicationLag();
    lag.admit(10);
    lag.admit(20);
    expect(lag.held).toBe(30);
    expect(lag.bytes).toBe(0);
    lag.appended(1n, 10, 0n);
    expect(lag).toMatchObject({ held: 30, bytes: 10 });
    lag.release(20);
    expect(lag).toMatchObject({ held: 10, bytes: 10 });
    lag.replicated(1n);
    expect(lag.held).toBe(0);
  });
});
