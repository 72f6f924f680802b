import { pathToFileURL } from 'node:url';
import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { Batch } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { Follower, ReplicatedWal } from '../src/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary, followerCopy } = useReplication();

describe('a sync primary and a follower on a 3-node cluster', () => {
  it('acknowledges appends only once replicated, and a follower copies them byte for byte', async () => {
    const stream = streamName('basic');
    const primary = await openPrimary(stream, { mode: 'sync' });
    const producers = 16;
    const perProducer = 25;
    const acked: bigint[] = [];
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let k = 0; k < perProducer; k++) {
          const lsn = await primary.append(
            payloadFor(p * perProducer + k),
            k % 5 === 0 ? Buffer.from([p, k]) : undefined,
          );
          // Acknowledged means replicated: the stream holds it already.
          expect(primary.replicatedLsn).toBeGreaterThanOrEqual(lsn);
          acked.push(lsn);
        }
      }),
    );
    await expectWalError(
      primary.appendBatch([Buffer.from('not a batch')] as unknown as Batch),
      'WAL_BAD_ARGUMENT',
    );
    const last = await primary.appendBatch(
      new Batch().add(Buffer.from('b1')).add(Buffer.from('b2')),
    );
    expect(acked.length).toBe(producers * perProducer);
    expect(last).toBe(BigInt(acked.length + 2));
    const stats = primary.stats();
    expect(stats.lag.records).toBe(0n);
    expect(stats.lag.bytes).toBe(0);
    expect(stats.epoch).toBe(1);
    expect(stats.guarantee.replicas).toBe(3);
    expect(stats.shipper.messages).toBeLessThan(acked.length); // groups, not one message per record

    const followerDir = tempDir();
    const follower = await Follower.open(followerDir, { servers: cluster().servers, stream });
    opened.push(follower);
    expect(await follower.waitFor(last, 20_000)).toBeGreaterThanOrEqual(last);
    await follower.close();
    await primary.close();

    const copy = await readLog(followerDir);
    const original = await readLog(primary.dir);
    expect(contiguous(copy)).toBe(Number(last));
    expect(copy).toEqual(original);
  });

  it('await using closes a primary and a follower when their scope ends', async () => {
    const stream = streamName('using');
    const primaryDir = tempDir();
    const followerDir = tempDir();
    {
      await using primary = await ReplicatedWal.open(primaryDir, {
        servers: cluster().servers,
        stream,
        replicas: 3,
      });
      const lsn = await primary.append(Buffer.from('kept'));
      await using follower = await Follower.open(followerDir, {
        servers: cluster().servers,
        stream,
      });
      await follower.waitFor(lsn, 20_000);
    }
    // Both released their directories: each opens again (as a plain Wal).
    expect((await readLog(primaryDir)).map((r) => r.payload.toString())).toEqual(['kept']);
    expect((await readLog(followerDir)).map((r) => r.payload.toString())).toEqual(['kept']);
  });

  it('takes each directory as a file: URL too, as node:fs does', async () => {
    const stream = streamName('url');
    const primaryDir = tempDir();
    const primary = await ReplicatedWal.open(pathToFileURL(primaryDir), {
      servers: cluster().servers,
      stream,
      replicas: 3,
    });
    opened.push(primary);
    expect(primary.dir).toBe(primaryDir);
    const lsn = await primary.append(Buffer.from('by URL'));
    const followerDir = tempDir();
    const follower = await Follower.open(pathToFileURL(followerDir), {
      servers: cluster().servers,
      stream,
    });
    opened.push(follower);
    expect(follower.dir).toBe(followerDir);
    await follower.waitFor(lsn, 20_000);
    await follower.close();
    expect((await readLog(followerDir)).map((r) => r.payload.toString())).toEqual(['by URL']);
  });

  it('lets a caller reuse its buffer as soon as append returns, locally and on the follower', async () => {
    const stream = streamName('reuse');
    const primary = await openPrimary(stream);
    const buffer = Buffer.alloc(32);
    const appends: Promise<bigint>[] = [];
    for (let i = 0; i < 200; i++) {
      buffer.fill(i);
      appends.push(primary.append(buffer, buffer.subarray(0, 2)));
      if (i % 50 === 0) {
        const batch = new Batch().add(buffer).add(buffer);
        appends.push(primary.appendBatch(batch));
        buffer.fill(255);
      }
    }
    await Promise.all(appends);
    const copy = await followerCopy(stream, primary.lastLsn);
    await primary.close();
    expect(copy).toEqual(await readLog(primary.dir));
    const expected: number[] = [];
    for (let i = 0; i < 200; i++) expected.push(...(i % 50 === 0 ? [i, i, i] : [i]));
    expect(copy.map((r) => r.payload.every((b) => b === r.payload[0]) && r.payload[0])).toEqual(
      expected,
    );
    expect(
      copy.every((r) => r.meta?.equals(r.payload.subarray(0, 2)) ?? r.payload.length === 32),
    ).toBe(true);
  });

  it('continues a follower from its own position after a restart', async () => {
    const stream = streamName('restart');
    const primary = await openPrimary(stream);
    for (let i = 0; i < 50; i++) await primary.append(payloadFor(i));
    const dir = tempDir();
    const first = await Follower.open(dir, { servers: cluster().servers, stream });
    await first.waitFor(50n, 20_000);
    await first.close();
    const batch = new Batch();
    for (let i = 50; i < 120; i++) batch.add(payloadFor(i));
    await primary.appendBatch(batch);
    const copy = await followerCopy(stream, 120n, { dir });
    expect(contiguous(copy)).toBe(120);
    for (const [i, r] of copy.entries()) expect(r.payload.equals(payloadFor(i))).toBe(true);
  });
});
