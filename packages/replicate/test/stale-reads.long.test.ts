import { payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readLease } from '../src/cluster/lease.js';
import type { ClusterLink, StreamPosition } from '../src/cluster/link.js';
import { Follower, ReplicatedWal } from '../src/index.js';
import { NatsCluster, sleep } from '../src/testing/index.js';
import {
  closedAfterEach,
  contiguous,
  expectAcknowledgedIn,
  readLog,
  streamName,
} from './helpers.js';

let cluster: NatsCluster | undefined;
beforeAll(async () => {
  cluster = await NatsCluster.start({ size: 3, routeProxies: true });
}, 60_000);
afterAll(async () => {
  await cluster?.stop();
  removeTempDirs();
});
const opened = closedAfterEach(async () => {
  cluster?.healRoutes();
});

describe('a server answering with a stale copy after a partition', () => {
  // Its own waits are bounded (4 s isolated, up to 30 s for the stream to move, up to 50 s
  // stale, then up to 60 s each for appends, replication and the follower): the test's timeout
  // must outlast them, so that a slow run fails on the wait that was slow, not on the clock.
  it('costs no lease epoch per refused re-seed, and shipping resumes once the answers are true', {
    timeout: 300_000,
  }, async () => {
    const c = cluster!;
    const stream = streamName('stale');
    const primary = await ReplicatedWal.open(tempDir(), {
      servers: c.servers,
      stream,
      replicas: 3,
      requestTimeoutMs: 2_000,
      replicationTimeoutMs: 120_000,
    });
    opened.push(primary);
    const acked = new Map<bigint, number>();
    for (let i = 0; i < 100; i++) acked.set(await primary.append(payloadFor(i)), i);
    const link = (primary as unknown as { link: ClusterLink }).link;
    const epochBefore = (await readLease(link.kv))!.lease.epoch;

    // The leader cut off from its peers keeps the stream as it was when the cut began and,
    // in the nemesis, went on answering with that copy for minutes after the cut healed
    // (2.9.10). Here its answer is the stream's position at the cut, whichever server
    // leads, until a re-seed was refused and 5 s more; publishes, the lease, the
    // step-downs and the refusals are the real cluster's.
    const stale: StreamPosition = await link.lastPosition();
    const real = link.lastPosition.bind(link);
    let staleUntil = Number.POSITIVE_INFINITY;
    link.lastPosition = async () => {
      const position = await real();
      return Date.now() < staleUntil && position.seq > stale.seq ? stale : position;
    };

    // One publish fails right after the heal, so that the shipper reconciles while the
    // answers are stale: left to the cluster, whether a publish fails in that window
    // depends on how the election went, and without a reconcile there is nothing to test.
    const publish = link.publish.bind(link);
    let failOne = false;
    link.publish = (...args) => {
      if (!failOne) return publish(...args);
      failOne = false;
      return Promise.reject(new Error('injected: the publish timed out'));
    };

    let next = 100;
    let stop = false;
    const producers = Array.from({ length: 8 }, async () => {
      const deadline = Date.now() + 240_000;
      while (!stop && Date.now() < deadline) {
        const i = next++;
        try {
          acked.set(await primary.append(payloadFor(i)), i);
        } catch {
          await sleep(100);
        }
      }
    });
    await sleep(500);
    const leader = await c.streamLeader(stream);
    c.isolate(leader);
    await sleep(4_000);
    c.healRoutes();
    // The stale answer differs from the true one only once the stream has moved past the
    // cut; on a loaded machine the election after the cut can take the whole isolation.
    const moved = Date.now() + 30_000;
    while (Date.now() < moved && (await real().catch(() => stale)).seq <= stale.seq)
      await sleep(100);
    // Every server is asked to lead before a short stream is re-seeded (decision 0915),
    // and each step-down is an election: how long that takes is the cluster's.
    failOne = true;
    const refused = Date.now() + 45_000;
    while (Date.now() < refused && primary.stats().shipper.staleReads === 0) await sleep(100);
    staleUntil = Date.now() + 5_000;
    await sleep(5_000);
    const during = primary.stats();
    const epochDuring = (await readLease(link.kv))!.lease.epoch;
    const ackedDuring = acked.size;
    // True answers again: appends are acknowledged again, with no re-seed.
    const deadline = Date.now() + 60_000;
    while (acked.size === ackedDuring && Date.now() < deadline) await sleep(50);
    stop = true;
    await Promise.all(producers);

    expect(epochDuring - epochBefore).toBeLessThanOrEqual(1);
    expect(during.shipper.staleReads).toBeGreaterThan(0);
    expect(acked.size).toBeGreaterThan(ackedDuring);
    expect(primary.stats().shipper.reseeds).toBe(0);
    expect(primary.fenced).toBeNull();
    const last = primary.lastLsn;
    await primary.waitReplicated(last, 60_000);
    const follower = await Follower.open(tempDir(), { servers: c.servers, stream });
    opened.push(follower);
    await follower.waitFor(last, 60_000);
    await follower.close();
    const copy = await readLog(follower.dir);
    contiguous(copy);
    expectAcknowledgedIn(copy, acked);
  });
});
