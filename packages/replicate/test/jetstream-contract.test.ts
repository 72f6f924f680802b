import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { describe, expect, it } from 'vitest';
import { useCluster } from './helpers.js';

/**
 * What @walnut/replicate relies on from JetStream, checked on the installed server: if a
 * server version changed one of these, this file says which before the package misbehaves.
 */
const cluster = useCluster();

describe('the JetStream behaviour replication is built on', () => {
  it('stores an R3 stream in order, refuses a stale expected last sequence, drops a duplicate id', async () => {
    const nc = await cluster().connect();
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: 'probe', subjects: ['probe.log'], num_replicas: 3 });
      const js = jetstream(nc);
      const a = await js.publish('probe.log', 'a', { msgID: 'x:1', expect: { lastSequence: 0 } });
      expect(a.seq).toBe(1);
      await expect(
        js.publish('probe.log', 'b', { msgID: 'x:2', expect: { lastSequence: 0 } }),
      ).rejects.toMatchObject({ name: expect.stringMatching(/Error/) });
      const again = await js.publish('probe.log', 'a', {
        msgID: 'x:1',
        expect: { lastSequence: 1 },
      });
      expect(again).toMatchObject({ seq: 1, duplicate: true });
      const info = await jsm.streams.info('probe');
      expect(info.state.last_seq).toBe(1);
      expect(['n1', 'n2', 'n3']).toContain(await cluster().streamLeader('probe'));
    } finally {
      await nc.close();
    }
  });

  it('lets a key-value update succeed only at the revision it read', async () => {
    const nc = await cluster().connect();
    try {
      const kv = await new Kvm(nc).create('probe-kv', { replicas: 3 });
      const revision = await kv.create('lease', '1');
      await expect(kv.create('lease', '2')).rejects.toBeDefined();
      const next = await kv.update('lease', '2', revision);
      await expect(kv.update('lease', '3', revision)).rejects.toBeDefined();
      expect((await kv.get('lease'))?.revision).toBe(next);
    } finally {
      await nc.close();
    }
  });
});
