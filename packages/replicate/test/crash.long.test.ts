import { payloadFor, tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { Follower, ReplicatedWal } from '../src/index.js';
import { PrimaryChild } from './child.js';
import {
  contiguous,
  expectAcknowledgedIn,
  readLog,
  streamName,
  useReplication,
} from './helpers.js';

// The primaries here run the built package in child processes: build first (pnpm test does).
const { cluster, opened } = useReplication();

describe('the primary process dies or stops', () => {
  it('SIGKILL of a sync primary: every acknowledged record is in the stream; reopened, it ships the rest', async () => {
    const stream = streamName('sigkill');
    const dir = tempDir();
    const child = PrimaryChild.start({
      dir,
      servers: cluster().servers,
      stream,
      mode: 'sync',
      producers: 64,
      count: 200_000,
    });
    opened.push({ close: () => child.exit(1) });
    await child.waitReady();
    await child.waitAcked(400 + Math.floor(Math.random() * 600));
    child.signal('SIGKILL');
    await child.exit();
    const acked = new Map(child.acked);

    const followerDir = tempDir();
    const follower = await Follower.open(followerDir, { servers: cluster().servers, stream });
    opened.push({ close: () => follower.close() });
    const highest = [...acked.keys()].reduce((a, b) => (a > b ? a : b), 0n);
    await follower.waitFor(highest, 30_000);

    // The killed primary's directory opens again as primary (epoch 2) and ships what its
    // disk held beyond the stream; the follower ends up with exactly the primary's log.
    const again = await ReplicatedWal.open(dir, {
      servers: cluster().servers,
      stream,
      replicas: 3,
    });
    opened.push({ close: () => again.close() });
    expect(again.epoch).toBe(2);
    const last = await again.append(payloadFor(1_000_000));
    await follower.waitFor(last, 30_000);
    await again.close();
    await follower.close();
    const copy = await readLog(followerDir);
    expect(contiguous(copy)).toBe(Number(last));
    expectAcknowledgedIn(copy, acked);
    expect(copy).toEqual(await readLog(dir));
  });

  it('SIGSTOP of a sync primary while a follower is promoted: after SIGCONT it is fenced and never acknowledges again', async () => {
    const stream = streamName('sigstop');
    const dir = tempDir();
    const child = PrimaryChild.start({
      dir,
      servers: cluster().servers,
      stream,
      mode: 'sync',
      producers: 16,
      count: 200_000,
      pauseMs: 2,
    });
    opened.push({
      close: () => {
        child.signal('SIGCONT');
        return child.exit(1);
      },
    });
    await child.waitReady();
    const followerDir = tempDir();
    const follower = await Follower.open(followerDir, { servers: cluster().servers, stream });
    await child.waitAcked(300);
    child.signal('SIGSTOP');
    const ackedWhileRunning = child.acked.size;

    const promoted = await follower.promote();
    opened.push({ close: () => promoted.close() });
    expect(promoted.epoch).toBe(2);
    const takeover = promoted.lastLsn;
    const mine: bigint[] = [];
    for (let i = 0; i < 50; i++) mine.push(await promoted.append(payloadFor(2_000_000 + i)));

    child.signal('SIGCONT');
    expect(await child.exit(60_000)).toBe(0);
    expect(child.done).toBe(true);
    // Fenced: the old primary's producers were refused, and nothing it acknowledged lies past the takeover.
    expect(child.failures.some((f) => f.code === 'WAL_FENCED')).toBe(true);
    expect(child.failures.filter((f) => f.code !== 'WAL_FENCED')).toEqual([]);
    expect(child.acked.size).toBeGreaterThanOrEqual(ackedWhileRunning);
    for (const lsn of child.acked.keys()) expect(lsn).toBeLessThanOrEqual(takeover);

    await promoted.close();
    const copy = await readLog(followerDir);
    expect(contiguous(copy)).toBe(Number(takeover) + 50);
    expectAcknowledgedIn(copy, child.acked);
    for (const [k, lsn] of mine.entries())
      expect(copy[Number(lsn) - 1]!.payload.equals(payloadFor(2_000_000 + k))).toBe(true);
  });
});
