import { payloadFor, tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import type { ClusterLink } from '../src/cluster/link.js';
import { Follower, ReplicatedWal } from '../src/index.js';
import { readLocalState } from '../src/local/local-state.js';
import { names } from '../src/options.js';
import { type NatsCluster, sleep } from '../src/testing/index.js';
import { readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary, followerCopy } = useReplication();

/** What a power cut of every server can leave of a log's stream and buckets: nothing. */
async function loseEverything(c: NatsCluster, stream: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: c.servers });
  try {
    const jsm = await jetstreamManager(nc);
    const n = names(stream);
    for (const name of [n.stream, `KV_${n.kvBucket}`, `OBJ_${n.objBucket}`]) {
      await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}

/** What a power cut can leave of the stream alone (the lease bucket kept): nothing. */
async function loseStream(c: NatsCluster, stream: string): Promise<void> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: c.servers });
  try {
    await (await jetstreamManager(nc)).streams.delete(names(stream).stream);
  } finally {
    await nc.close();
  }
}

/** Runs `use` with a JetStream manager connected to `c`. */
async function withJsm<T>(
  c: NatsCluster,
  use: (jsm: import('@nats-io/jetstream').JetStreamManager) => Promise<T>,
): Promise<T> {
  const { connect } = await import('@nats-io/transport-node');
  const { jetstreamManager } = await import('@nats-io/jetstream');
  const nc = await connect({ servers: c.servers });
  try {
    return await use(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

describe('a stream that goes back', () => {
  it('is noticed at once, and re-seeded from the log under a higher epoch kept beside it', async () => {
    const stream = streamName('reseed');
    const primary = await openPrimary(stream, { replicationTimeoutMs: 30_000 });
    for (let i = 0; i < 200; i++) await primary.append(payloadFor(i));
    const ahead = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(ahead);
    await ahead.waitFor(200n, 20_000);
    const epochBefore = primary.epoch;

    await loseEverything(cluster(), stream);
    // The next append fails to publish; the shipper finds the stream gone.
    const next = primary.append(payloadFor(200));
    const deadline = Date.now() + 20_000;
    while (primary.stats().shipper.reseeds === 0 && Date.now() < deadline) await sleep(20);
    const stats = primary.stats();
    expect(stats.shipper.regressed).toMatch(/the stream went back: it ends at LSN 0/);
    expect(stats.epoch).toBeGreaterThan(epochBefore);
    expect(readLocalState(primary.dir)?.epoch).toBe(stats.epoch);
    expect(await next).toBe(201n);
    for (let i = 201; i < 260; i++) await primary.append(payloadFor(i));
    expect(primary.replicatedLsn).toBe(260n);

    // A follower ahead of the re-seeded stream neither diverges nor takes a record twice,
    // and a fresh one gets the whole log from the stream again.
    await ahead.waitFor(260n, 30_000);
    expect(ahead.stats().failed).toBeNull();
    const fresh = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(fresh);
    await fresh.waitFor(260n, 30_000);
    await ahead.close();
    await fresh.close();
    await primary.close();
    const log = await readLog(primary.dir);
    expect(log).toHaveLength(260);
    expect(await readLog(ahead.dir)).toEqual(log);
    expect(await readLog(fresh.dir)).toEqual(log);
  });

  it('is re-seeded while the cluster cannot make the object bucket, which the uploader makes later', async () => {
    const stream = streamName('reseed-objects');
    const primary = await openPrimary(stream, { replicationTimeoutMs: 30_000 });
    for (let i = 0; i < 100; i++) await primary.append(payloadFor(i));
    const epochBefore = primary.epoch;
    const n = names(stream);
    const squatter = `${n.stream}-squatter`;
    // The stream is lost, and its object bucket cannot be made: another stream holds its
    // subjects. (nats-server 2.9.10 left a bucket unanswered for minutes after a takeover.)
    await withJsm(cluster(), async (jsm) => {
      await jsm.streams.delete(n.stream);
      await jsm.streams.delete(`OBJ_${n.objBucket}`);
      await jsm.streams.add({ name: squatter, subjects: [`$O.${n.objBucket}.>`] });
    });
    const deadline = Date.now() + 30_000;
    while (primary.stats().shipper.reseeds === 0 && Date.now() < deadline) await sleep(50);
    expect(primary.stats().shipper.reseeds).toBe(1);
    expect(primary.epoch).toBeGreaterThan(epochBefore);
    expect(await primary.append(payloadFor(100))).toBe(101n);

    await withJsm(cluster(), (jsm) => jsm.streams.delete(squatter));
    // The uploader's next pass (after its backoff) makes the bucket again.
    let bucket = false;
    for (let i = 101; !bucket && i < 200; i++) {
      await primary.append(payloadFor(i));
      await sleep(300);
      bucket = await withJsm(cluster(), (jsm) =>
        jsm.streams.info(`OBJ_${n.objBucket}`).then(
          () => true,
          () => false,
        ),
      );
    }
    expect(bucket).toBe(true);
    const last = primary.lastLsn;
    const copy = await followerCopy(stream, last, { timeoutMs: 30_000 });
    await primary.close();
    expect(copy).toEqual(await readLog(primary.dir));
  });

  it('is noticed by an idle primary, which re-seeds it without waiting for another append', async () => {
    const stream = streamName('idle-reseed');
    const primary = await openPrimary(stream, { replicationTimeoutMs: 30_000 });
    for (let i = 0; i < 100; i++) await primary.append(payloadFor(i));
    const epochBefore = primary.epoch;

    await loseStream(cluster(), stream);
    // No append follows: only the primary's own looks at the stream can find it gone.
    const deadline = Date.now() + 30_000;
    while (primary.stats().shipper.reseeds === 0 && Date.now() < deadline) await sleep(50);
    expect(primary.stats().shipper.regressed).toMatch(/the stream went back: it ends at LSN 0/);
    expect(primary.epoch).toBeGreaterThan(epochBefore);
    expect(primary.fenced).toBeNull();
    const copy = await followerCopy(stream, 100n, { timeoutMs: 30_000 });
    await primary.close();
    expect(copy).toEqual(await readLog(primary.dir));
  });

  it('whose re-seeding marker is stored but its acknowledgement lost: the primary finds its own marker and goes on', async () => {
    const stream = streamName('marker-ack');
    const primary = await openPrimary(stream, { replicationTimeoutMs: 60_000 });
    for (let i = 0; i < 50; i++) await primary.append(payloadFor(i));
    const epochBefore = primary.epoch;
    // The marker reaches the stream; its acknowledgement does not (a connection that broke
    // after the server stored it).
    const link = (primary as unknown as { link: ClusterLink }).link;
    const publish = link.publish.bind(link);
    let dropped = 0;
    link.publish = async (body, id, expected, timeoutMs) => {
      const ack = await publish(body, id, expected, timeoutMs);
      if (id.includes(':reseed') && dropped++ === 0) {
        throw Object.assign(new Error('timeout'), { name: 'TimeoutError' });
      }
      return ack;
    };

    await loseEverything(cluster(), stream);
    const appends = Array.from({ length: 50 }, (_, k) => primary.append(payloadFor(50 + k)));
    const results = await Promise.allSettled(appends);
    expect(dropped).toBeGreaterThan(0);
    expect(primary.fenced).toBeNull();
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const stats = primary.stats();
    expect(stats.epoch).toBe(epochBefore + 1);
    expect(stats.shipper.reseeds).toBe(1);
    expect(primary.replicatedLsn).toBe(100n);
    const copy = await followerCopy(stream, 100n);
    await primary.close();
    expect(copy).toEqual(await readLog(primary.dir));
  });

  it('a primary reopened after the cluster lost everything takes an epoch above the one its directory held', async () => {
    const stream = streamName('epoch-floor');
    const first = await openPrimary(stream);
    await first.append(payloadFor(1));
    const held = first.epoch;
    await first.close();
    await loseEverything(cluster(), stream);
    const reopened = await ReplicatedWal.open(first.dir, {
      servers: cluster().servers,
      stream,
      replicas: 3,
    });
    opened.push(reopened);
    expect(reopened.epoch).toBe(held + 1);
    expect(await reopened.append(payloadFor(2))).toBe(2n);
    expect(reopened.replicatedLsn).toBe(2n);
  });
});
