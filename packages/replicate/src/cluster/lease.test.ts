import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { expectWalError } from '@walnut/storage-io/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NatsCluster } from '../testing/nats-cluster.js';
import { readLease, takeLease } from './lease.js';

describe('taking the lease', () => {
  let cluster: NatsCluster | undefined;
  let nc: NatsConnection | undefined;
  let kv: KV;
  beforeAll(async () => {
    cluster = await NatsCluster.start({ size: 3 });
    nc = await cluster.connect();
    kv = await new Kvm(jetstream(nc, { timeout: 1_000 })).create('walnut-lease-test-lease', {
      replicas: 3,
      history: 1,
    });
  }, 60_000);
  afterAll(async () => {
    await nc?.close();
    await cluster?.stop();
  });

  it('is WAL_FENCED when another node changed it since it was read', async () => {
    const read = await readLease(kv);
    await takeLease(kv, 'a', read);
    const error = await expectWalError(takeLease(kv, 'b', read), 'WAL_FENCED');
    expect(error.message).toContain('another node changed the primary lease');
  });

  it('is WAL_IO, saying the outcome is unknown, when the cluster has no quorum', async () => {
    const read = await readLease(kv);
    const jsm = await jetstreamManager(nc!);
    const leader = (await jsm.streams.info('KV_walnut-lease-test-lease')).cluster?.leader;
    await Promise.all(cluster!.nodes.filter((n) => n.spec.name !== leader).map((n) => n.kill()));
    const error = await expectWalError(takeLease(kv, 'a', read), 'WAL_IO');
    expect(error.message).toContain('the cluster cannot be reached');
    expect(error.message).toContain('whether it was taken is unknown');
  });
});
