import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Kvm } from '@nats-io/kv';
import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { isWalError, type WalError } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { readLease, takeLease } from '../src/cluster/lease.js';
import { Follower, ReplicatedWal } from '../src/index.js';
import { sleep, TcpProxy } from '../src/testing/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary, followerCopy } = useReplication();

describe('promotion and fencing', () => {
  it('a promoted follower fences the old primary, which never acknowledges again and reports its tail', async () => {
    const stream = streamName('fence');
    // The old primary reaches the cluster through a proxy the test can cut.
    const proxy = await TcpProxy.start(cluster().nodes[0]!.spec.clientPort);
    opened.push({ close: () => proxy.stop() });
    const old = await openPrimary(stream, {
      servers: [proxy.url],
      connection: { ignoreClusterUpdates: true },
      mode: 'async',
      requestTimeoutMs: 1_000,
    });
    for (let i = 0; i < 40; i++) await old.append(payloadFor(i));
    await old.waitReplicated(40n, 10_000);
    const followerDir = tempDir();
    const follower = await Follower.open(followerDir, { servers: cluster().servers, stream });
    await follower.waitFor(40n, 20_000);

    // Cut off, the async primary still acknowledges locally: LSNs 41-45 never reach the stream.
    proxy.cut();
    for (let i = 40; i < 45; i++)
      expect(await old.append(payloadFor(1000 + i))).toBe(BigInt(i + 1));
    const promoted = await follower.promote();
    opened.push(promoted);
    expect(promoted.epoch).toBe(2);
    expect(promoted.lastLsn).toBe(40n);
    proxy.heal();

    // Back in touch, the old primary learns of the takeover (lease watch or a refused publish).
    const deadline = Date.now() + 20_000;
    while (old.fenced === null && Date.now() < deadline) await sleep(50);
    expect(old.fenced).toMatchObject({ byEpoch: 2, unreplicated: { from: 41n, to: 45n } });
    expect(await expectWalError(old.append(payloadFor(1000)), 'WAL_FENCED')).toMatchObject({
      details: { unreplicated: { from: 41n, to: 45n } },
    });
    expect(old.replicatedLsn).toBe(40n);

    for (let i = 40; i < 60; i++) expect(await promoted.append(payloadFor(i))).toBe(BigInt(i + 1));
    await old.close();
    await promoted.close();

    // The old directory cannot come back as primary; the refusal names the way back.
    const refused = await expectWalError(
      ReplicatedWal.open(old.dir, { servers: cluster().servers, stream, replicas: 3 }),
      'WAL_FENCED',
    );
    expect(refused.message).toMatch(/rejoin\(dir, options\)/);
    // Nor follow: its LSNs 41-45 are records the stream never had.
    await expectWalError(
      Follower.open(old.dir, { servers: cluster().servers, stream }),
      'WAL_DIVERGED',
    );

    const copy = await readLog(followerDir);
    expect(contiguous(copy)).toBe(60);
    for (const [i, r] of copy.entries()) expect(r.payload.equals(payloadFor(i))).toBe(true);
  });

  it('appends refused during a takeover never name an LSN the stream holds as unreplicated', async () => {
    const stream = streamName('fence-race');
    // The old primary hears 50 ms late of what the cluster did: when the lease change
    // reaches it, publishes the stream stored meanwhile are not acknowledged to it yet.
    const proxy = await TcpProxy.start(cluster().nodes[0]!.spec.clientPort, { delayMs: 50 });
    opened.push({ close: () => proxy.stop() });
    const old = await openPrimary(stream, {
      servers: [proxy.url],
      connection: { ignoreClusterUpdates: true },
    });
    const acked: bigint[] = [];
    const refused: WalError[] = [];
    const producers = Array.from({ length: 32 }, async (_, p) => {
      for (let k = 0; k < 1_000; k++) {
        try {
          acked.push(await old.append(payloadFor(p * 1_000 + k)));
        } catch (error) {
          if (!isWalError(error, 'WAL_FENCED')) throw error;
          refused.push(error);
          return;
        }
      }
    });
    const deadline = Date.now() + 30_000;
    while (acked.length < 200 && Date.now() < deadline) await sleep(5);
    // Another node takes the lease, as a promotion does before its epoch marker.
    const nc = await cluster().connect();
    opened.push({ close: () => nc.close() });
    const kv = await new Kvm(nc).open(`walnut-${stream}-lease`);
    await takeLease(kv, 'another-node', await readLease(kv));
    await Promise.all(producers);
    while (old.fenced === null && Date.now() < deadline) await sleep(20);
    expect(old.fenced).not.toBeNull();
    const tail = old.fenced!.unreplicated;
    // Every record before the tail only the old primary holds is in the stream, none after.
    const inStream = tail === null ? old.lastLsn : tail.from - 1n;
    expect(refused.length).toBeGreaterThan(0);
    for (const error of refused) {
      const range = error.details.unreplicated as { from: bigint; to: bigint } | null;
      expect(range?.from ?? null, error.message).toBe(tail?.from ?? null);
      expect(error.details.unreplicatedChecked).toBe(true);
    }
    for (const lsn of acked) expect(lsn).toBeLessThanOrEqual(inStream);
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    await follower.waitFor(inStream, 20_000);
    await expectWalError(follower.waitFor(inStream + 1n, 2_000), 'WAL_TIMEOUT');
  });

  it('a promotion the cluster does not answer is WAL_IO, takes nothing, and leaves the follower to promote again', async () => {
    const stream = streamName('promote-cut');
    const primary = await openPrimary(stream);
    await primary.append(payloadFor(0));
    const proxy = await TcpProxy.start(cluster().nodes[0]!.spec.clientPort);
    opened.push({ close: () => proxy.stop() });
    const options = {
      servers: [proxy.url],
      stream,
      connection: { ignoreClusterUpdates: true },
      requestTimeoutMs: 1_000,
    };
    const follower = await Follower.open(tempDir(), options);
    opened.push(follower);
    await follower.waitFor(1n, 20_000);
    proxy.cut();
    // The high-water mark is read before the lease is taken: unanswered, nothing was taken.
    const error = await expectWalError(follower.promote(), 'WAL_IO');
    expect(error.message).toContain('the cluster cannot be reached');
    expect(error.message).toContain('this follower goes on following');
    expect(follower.stats().failed).toBeNull();

    // As the error says: once the cluster answers, the same follower is promoted.
    // (The client reconnects on its own schedule: a user retries WAL_IO, bounded.)
    proxy.heal();
    let promoted: ReplicatedWal | null = null;
    for (let attempt = 0; promoted === null && attempt < 20; attempt++) {
      promoted = await follower.promote().catch(async (e: unknown) => {
        if (!isWalError(e, 'WAL_IO')) throw e;
        await sleep(1_000);
        return null;
      });
    }
    opened.push(promoted!);
    expect(await promoted!.append(payloadFor(1))).toBe(2n);
  });

  it('an old primary that has not yet heard of the takeover refuses its next append', async () => {
    const stream = streamName('fence-sync');
    const old = await openPrimary(stream);
    for (let i = 0; i < 10; i++) await old.append(payloadFor(i));
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    await follower.waitFor(10n, 20_000);
    const promoted = await follower.promote();
    opened.push(promoted);
    const outcome = await old.append(payloadFor(10)).then(
      () => 'acknowledged',
      (error) => (isWalError(error) ? error.code : String(error)),
    );
    expect(outcome).toBe('WAL_FENCED');
    expect(await promoted.append(payloadFor(10))).toBe(11n);
  });

  it('a primary whose directory lost the record of its last epoch still holds the lease', async () => {
    const stream = streamName('lost-epoch');
    const dir = tempDir();
    const options = { servers: cluster().servers, stream, replicas: 3 };
    const first = await ReplicatedWal.open(dir, options);
    await first.append(payloadFor(0));
    await first.close();
    const state = JSON.parse(readFileSync(join(dir, 'REPLICATION'), 'utf8'));
    const second = await ReplicatedWal.open(dir, options);
    expect(second.epoch).toBe(2);
    await second.close();
    // As if the process died after taking epoch 2 and before writing it down.
    writeFileSync(join(dir, 'REPLICATION'), JSON.stringify(state));
    const third = await ReplicatedWal.open(dir, options);
    opened.push(third);
    expect(third.epoch).toBe(3);
    expect(await third.append(payloadFor(1))).toBe(2n);
  });

  it('a primary seeing its own lease of an earlier epoch (the bucket went back) is not fenced by it', async () => {
    const stream = streamName('own-lease');
    const dir = tempDir();
    const options = { servers: cluster().servers, stream, replicas: 3 };
    const first = await ReplicatedWal.open(dir, options);
    await first.append(payloadFor(0));
    await first.close();
    const primary = await ReplicatedWal.open(dir, options);
    opened.push(primary);
    expect(primary.epoch).toBe(2);
    const { id } = JSON.parse(readFileSync(join(dir, 'REPLICATION'), 'utf8'));
    const nc = await cluster().connect();
    opened.push({ close: () => nc.close() });
    const kv = await new Kvm(nc).open(`walnut-${stream}-lease`);
    await kv.put('primary', JSON.stringify({ epoch: 1, holder: id, since: Date.now() }));
    // Then another node takes the lease. The watch delivers in order and the first fence
    // stands, so a fence naming that node's epoch shows the own lease before it fenced
    // nothing, without timing the watch.
    const other = await takeLease(kv, 'another-node', await readLease(kv));
    const deadline = Date.now() + 30_000;
    while (primary.fenced === null && Date.now() < deadline) await sleep(20);
    expect(primary.fenced?.byEpoch).toBe(other.lease.epoch);
    expect(primary.fenced?.reason).toBe(
      `the primary lease was taken at epoch ${other.lease.epoch}`,
    );
  });

  it('a second primary for the same stream is refused while the first holds the lease', async () => {
    const stream = streamName('second');
    const first = await openPrimary(stream);
    await expectWalError(
      ReplicatedWal.open(tempDir(), { servers: cluster().servers, stream, replicas: 3 }),
      'WAL_BAD_STATE',
    );
    await first.append(payloadFor(1));
  });

  it('a primary reopened in its own directory takes the next epoch and ships what it had not', async () => {
    const stream = streamName('reopen');
    const dir = tempDir();
    const first = await ReplicatedWal.open(dir, {
      servers: cluster().servers,
      stream,
      replicas: 3,
      mode: 'async',
    });
    for (let i = 0; i < 30; i++) await first.append(payloadFor(i));
    await first.close();
    const again = await ReplicatedWal.open(dir, {
      servers: cluster().servers,
      stream,
      replicas: 3,
    });
    opened.push(again);
    expect(again.epoch).toBe(2);
    expect(await again.append(payloadFor(30))).toBe(31n);
    expect(contiguous(await followerCopy(stream, 31n))).toBe(31);
  });
});
