import { createServer, type Server, type Socket } from 'node:net';
import { jetstreamManager } from '@nats-io/jetstream';
import { expectWalError, tempDir } from '@walnut/storage-io/testing';
import { Batch } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { Follower, ReplicatedWal } from '../src/index.js';
import { names } from '../src/options.js';
import { NatsCluster } from '../src/testing/index.js';
import { streamName, useReplication } from './helpers.js';

const { cluster, openPrimary } = useReplication();

/** The names of every stream the cluster at `servers` holds (the buckets are streams too). */
async function streamsOn(target: NatsCluster): Promise<string[]> {
  const nc = await target.connect();
  try {
    const jsm = await jetstreamManager(nc);
    const all: string[] = [];
    for await (const name of jsm.streams.names()) all.push(name);
    return all;
  } finally {
    await nc.close();
  }
}

/**
 * Counts the requests to create `stream` that reach `target` while `during` runs: a core
 * subscription to the JetStream API subject sees every request a client sends there.
 */
async function createRequests(
  target: NatsCluster,
  stream: string,
  during: () => Promise<unknown>,
): Promise<number> {
  const nc = await target.connect();
  try {
    let count = 0;
    nc.subscribe(`$JS.API.STREAM.CREATE.${stream}`, {
      callback: () => {
        count++;
      },
    });
    await nc.flush();
    await during();
    await nc.flush();
    return count;
  } finally {
    await nc.close();
  }
}

/** Whether anything of the replicated log `stream` exists on `target`. */
async function leftBehind(target: NatsCluster, stream: string): Promise<string[]> {
  const n = names(stream);
  const mine = [n.stream, `KV_${n.kvBucket}`, `OBJ_${n.objBucket}`];
  return (await streamsOn(target)).filter((s) => mine.includes(s));
}

describe('what ReplicatedWal.open refuses before it replicates anything', () => {
  it('refuses more replicas than the cluster has servers with WAL_BAD_ARGUMENT at once, creating nothing', async () => {
    const stream = streamName('five-on-three');
    let error = new Error('not refused');
    const requests = await createRequests(cluster(), stream, async () => {
      error = await expectWalError(
        ReplicatedWal.open(tempDir(), { servers: cluster().servers, stream, replicas: 5 }),
        'WAL_BAD_ARGUMENT',
      );
    });
    // The setup's retries (six tries in three to six seconds) are for what passes; this does not.
    expect(requests).toBe(1);
    expect(error.message).toContain('the cluster has 3 servers up');
    expect(error.message).toContain('use replicas: 3');
    expect(error).toMatchObject({ details: { replicas: 5, servers: 3 } });
    expect(await leftBehind(cluster(), stream)).toEqual([]);
  });

  it('refuses replicas > 1 on a server that is not clustered with WAL_BAD_ARGUMENT, creating nothing', async () => {
    const single = await NatsCluster.start({ size: 1 });
    try {
      const stream = streamName('three-on-one');
      let error = new Error('not refused');
      const requests = await createRequests(single, stream, async () => {
        error = await expectWalError(
          ReplicatedWal.open(tempDir(), { servers: single.servers, stream, replicas: 3 }),
          'WAL_BAD_ARGUMENT',
        );
      });
      expect(requests).toBe(1);
      expect(error.message).toContain('not clustered');
      expect(error.message).toContain('use replicas: 1');
      expect(await leftBehind(single, stream)).toEqual([]);
    } finally {
      await single.stop();
    }
  });

  it('gives up on a server that accepts and never answers after requestTimeoutMs, not the client default of 20 s', async () => {
    const sockets = new Set<Socket>();
    const silent: Server = createServer((socket) => {
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as { port: number }).port;
      const started = Date.now();
      await expectWalError(
        Follower.open(tempDir(), {
          servers: `nats://127.0.0.1:${port}`,
          stream: streamName('silent'),
          requestTimeoutMs: 1_000,
        }),
        'WAL_IO',
      );
      // Not a speed bound: with the client's default it takes 20 s; with 1 s asked, a
      // loaded machine may stretch it, but never to that.
      expect(Date.now() - started).toBeLessThan(15_000);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  }, 30_000);

  it('refuses a wal.maxRecordSize above what one stream message holds, naming the cap', async () => {
    const error = await expectWalError(
      ReplicatedWal.open(tempDir(), {
        servers: cluster().servers,
        stream: streamName('big-records'),
        wal: { maxRecordSize: 4 * 1024 * 1024 },
      }),
      'WAL_BAD_ARGUMENT',
    );
    expect(error.message).toContain('wal.maxRecordSize ≤ 1047936');
  });

  it('says how a record or batch over the cap can fit: not by raising maxRecordSize', async () => {
    const primary = await openPrimary(streamName('too-large'));
    const record = await expectWalError(
      primary.append(Buffer.alloc(1047937)),
      'WAL_RECORD_TOO_LARGE',
    );
    expect(record.message).toContain('over the limit of 1047936 bytes');
    expect(record.message).toContain('max_payload');
    expect(record.message).not.toContain('raise wal.maxRecordSize');
    const batch = new Batch();
    for (let i = 0; i < 20; i++) batch.add(Buffer.alloc(100 * 1024, i));
    const refused = await expectWalError(primary.appendBatch(batch), 'WAL_RECORD_TOO_LARGE');
    expect(refused.message).toContain('the batch holds 2048000 bytes of payload and meta');
    expect(refused.message).toContain('max_payload');
    // Below the cap, raising wal.maxRecordSize is the fix the message names.
    const small = await openPrimary(streamName('small-records'), { wal: { maxRecordSize: 1000 } });
    const over = await expectWalError(small.append(Buffer.alloc(1001)), 'WAL_RECORD_TOO_LARGE');
    expect(over.message).toContain('raise wal.maxRecordSize (up to 1047936');
    expect(primary.lastLsn).toBe(0n);
  });

  it('tells a second primary the holder epoch, and no LSN it cannot know', async () => {
    const stream = streamName('second');
    const primary = await openPrimary(stream);
    await primary.append(Buffer.from('acknowledged'));
    const refused = await expectWalError(
      ReplicatedWal.open(tempDir(), { servers: cluster().servers, stream, replicas: 3 }),
      'WAL_BAD_STATE',
    );
    expect(refused.details).toEqual({ epoch: 1 });
  });
});
