import { getSha256Backend } from '@nats-io/obj';
import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { KeyRing, type WalError } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { Follower } from '../src/index.js';
import { sleep, TcpProxy } from '../src/testing/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

async function until(what: string, check: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/**
 * A primary of `stream` that reaches the cluster only through a proxy in front of node 1
 * (no other server learned from it), so that cutting the proxy partitions it.
 */
async function proxiedPrimary(
  stream: string,
  options: { requestTimeoutMs: number; replicationTimeoutMs: number },
) {
  const proxy = await TcpProxy.start(cluster().nodes[1]!.spec.clientPort);
  opened.push({ close: () => proxy.stop() });
  const primary = await openPrimary(stream, {
    servers: [proxy.url],
    connection: { ignoreClusterUpdates: true },
    ...options,
  });
  return { proxy, primary };
}

describe('catching up from the object store', () => {
  it('a follower whose position the stream trimmed restores sealed segments, then follows the stream', async () => {
    const stream = streamName('restore');
    // Small segments (about 60 records of 200 B) and a stream that keeps 150 messages.
    const primary = await openPrimary(stream, {
      streamMaxMessages: 150,
      wal: { segmentSize: 16 * 1024 },
    });
    for (let i = 0; i < 100; i++) await primary.append(payloadFor(i, 200));
    const restartedDir = tempDir();
    const early = await Follower.open(restartedDir, { servers: cluster().servers, stream });
    await early.waitFor(100n, 20_000);
    await early.close();

    // One message per append: the stream now starts far past LSN 101.
    for (let i = 100; i < 1_000; i++) await primary.append(payloadFor(i, 200));
    await until('the uploads', () => primary.stats().uploads.uploadedLsn >= 800n);
    expect(primary.stats().uploads.failures).toBe(0);
    // Hashed with node:crypto, not nats.js's JavaScript default (decision 0906, later).
    expect(getSha256Backend()).toBe('native');

    const restarted = await Follower.open(restartedDir, { servers: cluster().servers, stream });
    opened.push(restarted);
    const fresh = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(fresh);
    await restarted.waitFor(1_000n, 30_000);
    await fresh.waitFor(1_000n, 30_000);
    expect(restarted.stats().restoredRecords).toBeGreaterThan(0);
    expect(JSON.parse(JSON.stringify(restarted.stats())).appliedLsn).toMatch(/^\d+$/);
    expect(fresh.stats().restoredRecords).toBeGreaterThan(0);

    // And they keep following the stream.
    await primary.append(payloadFor(1_000, 200));
    await restarted.waitFor(1_001n, 20_000);
    await restarted.close();
    await primary.close();
    const copy = await readLog(restartedDir);
    expect(contiguous(copy)).toBe(1_001);
    expect(copy).toEqual(await readLog(primary.dir));
  });

  it('restores encrypted segments with the key ring of the primary, and says a key is missing without it', async () => {
    const stream = streamName('restore-encrypted');
    const ring = new KeyRing([[7, Buffer.alloc(32, 7)]], 7);
    const primary = await openPrimary(stream, {
      streamMaxMessages: 100,
      wal: { segmentSize: 16 * 1024, encryption: ring },
    });
    for (let i = 0; i < 600; i++) await primary.append(payloadFor(i, 200));
    await until('the uploads', () => primary.stats().uploads.uploadedLsn >= 450n);

    const withRing = await Follower.open(tempDir(), {
      servers: cluster().servers,
      stream,
      wal: { encryption: ring },
    });
    opened.push(withRing);
    await withRing.waitFor(600n, 30_000);
    expect(withRing.stats().restoredRecords).toBeGreaterThan(0);

    const without = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(without);
    await expectWalError(without.waitFor(600n, 30_000), 'WAL_KEY_MISSING');
  });

  it('a partitioned sync primary fails its appends after the bounded wait and resumes when the partition heals', async () => {
    const stream = streamName('partition');
    const { proxy, primary } = await proxiedPrimary(stream, {
      requestTimeoutMs: 1_000,
      replicationTimeoutMs: 2_000,
    });
    for (let i = 0; i < 20; i++) await primary.append(payloadFor(i));
    proxy.cut();
    await Promise.all(
      Array.from({ length: 4 }, (_, i) =>
        expectWalError(primary.append(payloadFor(20 + i)), 'WAL_NOT_REPLICATED'),
      ),
    );
    expect(primary.stats().shipper.stalled).toBe(true);
    proxy.heal();
    expect(await primary.waitReplicated(24n, 30_000)).toBe(24n);
    expect(await primary.append(payloadFor(24))).toBe(25n);
    const dir = tempDir();
    const follower = await Follower.open(dir, { servers: cluster().servers, stream });
    opened.push(follower);
    await follower.waitFor(25n, 20_000);
    await follower.close();
    const copy = await readLog(dir);
    expect(contiguous(copy)).toBe(25);
    for (const [i, r] of copy.entries()) expect(r.payload.equals(payloadFor(i))).toBe(true);
  });

  it('close(timeoutMs) on a partitioned primary returns in about timeoutMs; its waiting appends are WAL_NOT_REPLICATED, in the log', async () => {
    const { proxy, primary } = await proxiedPrimary(streamName('close-partitioned'), {
      requestTimeoutMs: 8_000,
      replicationTimeoutMs: 20_000,
    });
    for (let i = 0; i < 5; i++) await primary.append(payloadFor(i));
    proxy.cut();
    // Settled (to an error or null) as they end: close rejects them before they are looked at.
    const waiting = Array.from({ length: 10 }, (_, i) =>
      primary.append(payloadFor(5 + i)).then(
        () => null,
        (error: unknown) => error,
      ),
    );
    await sleep(300);
    const started = Date.now();
    await primary.close(200);
    // Not a whole requestTimeoutMs for the publish in flight.
    expect(Date.now() - started).toBeLessThan(5_000);
    const lsns = [];
    for (const error of await Promise.all(waiting)) {
      expect(error).toMatchObject({
        code: 'WAL_NOT_REPLICATED',
        details: { locallyDurable: true },
      });
      lsns.push((error as WalError).details.lsn);
    }
    expect(lsns).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(6 + i)));
    const local = await readLog(primary.dir);
    expect(local.map((r) => r.lsn)).toEqual(Array.from({ length: 15 }, (_, i) => BigInt(i + 1)));
  });

  it('a waitReplicated for an LSN never appended is WAL_CLOSED at close, naming it', async () => {
    const primary = await openPrimary(streamName('close-unappended'));
    await primary.append(payloadFor(0));
    const waiting = primary.waitReplicated(100n, 20_000).catch((error: unknown) => error);
    await primary.close();
    const error = (await waiting) as WalError;
    expect(error.code).toBe('WAL_CLOSED');
    expect(error.message).toMatch(/LSN 100, which was never appended \(the last is LSN 1\)/);
  });

  // Healed without a reset: the connections the partition silenced stay open and dead, as
  // when a NAT or firewall dropped them. Only the client's pings can find that out.
  it('a sync primary whose connection was left half-open reconnects and resumes', async () => {
    const { proxy, primary } = await proxiedPrimary(streamName('half-open'), {
      requestTimeoutMs: 1_000,
      replicationTimeoutMs: 2_000,
    });
    for (let i = 0; i < 10; i++) await primary.append(payloadFor(i));
    proxy.cut();
    await expectWalError(primary.append(payloadFor(10)), 'WAL_NOT_REPLICATED');
    proxy.healSilently();
    // The client's default pings (2 min apart) would leave it stalled for minutes.
    expect(await primary.waitReplicated(11n, 30_000)).toBe(11n);
    expect(await primary.append(payloadFor(11))).toBe(12n);
  });

  it('a follower whose connection was left half-open reconnects and catches up', async () => {
    const stream = streamName('half-open-follower');
    const primary = await openPrimary(stream);
    const proxy = await TcpProxy.start(cluster().nodes[1]!.spec.clientPort);
    opened.push({ close: () => proxy.stop() });
    const follower = await Follower.open(tempDir(), {
      servers: [proxy.url],
      stream,
      connection: { ignoreClusterUpdates: true },
      requestTimeoutMs: 1_000,
    });
    opened.push(follower);
    for (let i = 0; i < 10; i++) await primary.append(payloadFor(i));
    await follower.waitFor(10n, 20_000);
    proxy.cut();
    for (let i = 10; i < 20; i++) await primary.append(payloadFor(i));
    await sleep(1_500);
    proxy.healSilently();
    expect(await follower.waitFor(20n, 30_000)).toBe(20n);
  });
});
