import { connect } from '@nats-io/transport-node';
import { payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { names } from '../src/options.js';
import { sleep } from '../src/testing/index.js';
import { streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

describe("a primary's reads of its lease bucket", () => {
  it("go to the bucket's leader, never to any copy (a direct get), as its compare-and-set needs", async () => {
    const stream = streamName('lease-reads');
    const bucket = `KV_${names(stream).kvBucket}`;
    const watcher = await connect({ servers: cluster().servers });
    const direct: string[] = [];
    const sub = watcher.subscribe(`$JS.API.DIRECT.GET.${bucket}.>`, {
      callback: (_error, msg) => {
        direct.push(msg.subject);
      },
    });
    const leader: string[] = [];
    const byLeader = watcher.subscribe(`$JS.API.STREAM.MSG.GET.${bucket}`, {
      callback: (_error, msg) => {
        leader.push(msg.subject);
      },
    });
    await watcher.flush();
    try {
      const primary = await openPrimary(stream);
      opened.push(primary);
      for (let i = 0; i < 10; i++) await primary.append(payloadFor(i));
      await sleep(200);
      expect(leader.length).toBeGreaterThan(0);
      expect(direct).toEqual([]);
    } finally {
      sub.unsubscribe();
      byLeader.unsubscribe();
      await watcher.close();
    }
  }, 60_000);
});
