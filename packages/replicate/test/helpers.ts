import { createHash } from 'node:crypto';
import { payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { Follower, type PrimaryOptions, ReplicatedWal } from '../src/index.js';
import { NatsCluster } from '../src/testing/index.js';

/**
 * Starts a 3-node cluster before the file's tests and stops it after them, removing the
 * tests' temporary directories; returns the function that gives the running cluster.
 */
export function useCluster(): () => NatsCluster {
  let cluster: NatsCluster | undefined;
  beforeAll(async () => {
    cluster = await NatsCluster.start({ size: 3 });
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
    removeTempDirs();
  });
  return () => {
    if (cluster === undefined) throw new Error('the cluster runs only while the tests do');
    return cluster;
  };
}

type Closeable = { close(): Promise<unknown> };

/**
 * What a test pushes here is closed after it, newest first; a close that fails does not
 * fail the next test. `then` runs after the closes (e.g. to restart stopped nodes).
 */
export function closedAfterEach(then?: () => Promise<void>): Closeable[] {
  const opened: Closeable[] = [];
  afterEach(async () => {
    for (const x of opened.splice(0).reverse()) await x.close().catch(() => undefined);
    await then?.();
  });
  return opened;
}

/** What a test file of replication works with: see `useReplication()`. */
export interface Replication {
  /** The running 3-node cluster. */
  readonly cluster: () => NatsCluster;
  /** What a test pushes here is closed after it (see `closedAfterEach`). */
  readonly opened: Closeable[];
  /** A primary of `stream` (3 replicas) on the cluster, in a fresh directory, closed after the test. */
  openPrimary(stream: string, options?: Partial<PrimaryOptions>): Promise<ReplicatedWal>;
  /**
   * Opens a follower of `stream` in `dir` (a fresh directory by default), waits until it
   * applied `lsn` (20 s at most by default), closes it, and returns its log.
   */
  followerCopy(
    stream: string,
    lsn: bigint,
    options?: { dir?: string; timeoutMs?: number },
  ): Promise<LogRecord[]>;
}

/**
 * `useCluster()` and `closedAfterEach(then)` of a test file, with shorthands that open
 * primaries and followers on that cluster. `then` gets the cluster.
 */
export function useReplication(then?: (cluster: NatsCluster) => Promise<void>): Replication {
  const cluster = useCluster();
  const opened = closedAfterEach(then && (() => then(cluster())));
  return {
    cluster,
    opened,
    async openPrimary(stream, options = {}) {
      const primary = await ReplicatedWal.open(tempDir(), {
        servers: cluster().servers,
        stream,
        replicas: 3,
        ...options,
      });
      opened.push(primary);
      return primary;
    },
    async followerCopy(stream, lsn, { dir = tempDir(), timeoutMs = 20_000 } = {}) {
      const follower = await Follower.open(dir, { servers: cluster().servers, stream });
      opened.push(follower);
      await follower.waitFor(lsn, timeoutMs);
      await follower.close();
      return readLog(dir);
    },
  };
}

let streams = 0;
/** A stream name no other test in this process uses. */
export function streamName(what: string): string {
  return `${what}-${process.pid}-${++streams}`;
}

export type LogRecord = { lsn: bigint; payload: Buffer; meta?: Buffer };

/** Every record of the log in `dir` (opened, replayed and closed). */
export async function readLog(dir: string): Promise<LogRecord[]> {
  const wal = await Wal.open(dir).storageIo('sync-fs').build();
  const out: LogRecord[] = [];
  try {
    await wal.replay(1n, (r) => {
      out.push({
        lsn: r.lsn,
        payload: Buffer.from(r.payload),
        ...(r.meta ? { meta: Buffer.from(r.meta) } : {}),
      });
    });
  } finally {
    await wal.close();
  }
  return out;
}

export function digest(records: { lsn: bigint; payload: Buffer }[]): string {
  const hash = createHash('sha256');
  for (const r of records) hash.update(`${r.lsn}:`).update(r.payload);
  return hash.digest('hex');
}

/** Checks that `copy` holds each acknowledged LSN with the bytes of `payloadFor(i)` (`acked`: LSN → i). */
export function expectAcknowledgedIn(
  copy: { lsn: bigint; payload: Buffer }[],
  acked: Map<bigint, number>,
): void {
  const byLsn = new Map(copy.map((r) => [r.lsn, r.payload]));
  for (const [lsn, i] of acked) {
    const payload = byLsn.get(lsn);
    expect(payload, `acknowledged LSN ${lsn}`).toBeDefined();
    expect(payload!.equals(payloadFor(i)), `bytes of LSN ${lsn}`).toBe(true);
  }
}

/** Checks LSNs 1..n contiguous; returns n. */
export function contiguous(records: { lsn: bigint }[]): number {
  records.forEach((r, i) => {
    if (r.lsn !== BigInt(i + 1))
      throw new Error(`LSN ${r.lsn} at position ${i} (expected ${i + 1})`);
  });
  return records.length;
}
