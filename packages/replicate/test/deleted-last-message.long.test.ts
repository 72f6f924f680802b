import { jetstreamManager } from '@nats-io/jetstream';
import { payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { ReplicatedWal } from '../src/index.js';
import { streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary, followerCopy } = useReplication();

/**
 * Deletes the message at the stream's last sequence, as a server does that lost it (a
 * power cut kept the sequence but not the bytes): JetStream keeps that sequence as the
 * stream's last. Returns it.
 */
async function deleteLastMessage(stream: string): Promise<number> {
  const nc = await cluster().connect();
  try {
    const jsm = await jetstreamManager(nc);
    const last = (await jsm.streams.info(stream)).state.last_seq;
    await jsm.streams.deleteMessage(stream, last);
    expect((await jsm.streams.info(stream)).state.last_seq).toBe(last);
    return last;
  } finally {
    await nc.close();
  }
}

describe('a stream whose last sequence holds no message', () => {
  it('is where a reopened primary goes on: it publishes after it, and a follower gets every record', async () => {
    const stream = streamName('gone-last');
    const first = await openPrimary(stream);
    for (let i = 0; i < 5; i++) await first.append(payloadFor(i));
    await first.close();
    const last = await deleteLastMessage(stream);

    const primary = await ReplicatedWal.open(first.dir, {
      servers: cluster().servers,
      stream,
      replicas: 3,
    });
    opened.push(primary);
    await primary.append(payloadFor(5));
    expect(primary.stats().streamSeq).toBeGreaterThan(last);
    // The deleted message's records were in the primary's log: shipped again after it.
    const records = await followerCopy(stream, 6n);
    expect(records.map((r) => r.payload)).toEqual([0, 1, 2, 3, 4, 5].map((i) => payloadFor(i)));
  }, 60_000);
});
