import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { Follower } from '../src/index.js';
import { readStreamCopy } from '../src/testing/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

// A test that stopped a server to cut its store leaves it running for the next.
const { cluster, opened, openPrimary } = useReplication(async (c) => {
  for (const node of c.nodes) await node.start();
});

/**
 * Small enough that nats-server 2.9.10 stores the stream in its smallest message blocks
 * (32 KiB, below a quarter of this): the records below fill several, and none is trimmed.
 */
const STREAM_MAX_BYTES = 120 * 1024;
const RECORDS = 300;
/** Fresh followers opened at most, until one is served a hole. */
const FOLLOWERS = 8;

/**
 * Removes one message block from the middle of `node`'s copy of `stream` while the node is
 * stopped: the copy then holds every message but that block's, as seed 7575's n3 did
 * (issue #58). nats-server 2.9.10 starts with it and serves the hole as deleted messages.
 */
async function cutAHoleIn(node: string, stream: string): Promise<number[]> {
  const server = cluster().node(node);
  await server.stop();
  const dir = join(server.spec.storeDir, 'jetstream', '$G', 'streams', stream, 'msgs');
  const blocks = readdirSync(dir)
    .filter((f) => /^\d+\.blk$/.test(f))
    .map((f) => Number.parseInt(f, 10))
    .sort((a, b) => a - b);
  expect(blocks.length).toBeGreaterThanOrEqual(3);
  const middle = blocks[1]!;
  const before = readStreamCopy(server.spec.storeDir, stream);
  for (const f of readdirSync(dir)) if (Number.parseInt(f, 10) === middle) rmSync(join(dir, f));
  const after = readStreamCopy(server.spec.storeDir, stream);
  await server.start();
  return [...before.keys()].filter((seq) => !after.has(seq));
}

describe('a server whose copy of the stream has a hole in the middle', () => {
  it('is consumed from another server: a fresh follower catches up from the whole copy', async () => {
    const stream = streamName('hole');
    const primary = await openPrimary(stream, { streamMaxBytes: STREAM_MAX_BYTES });
    let last = 0n;
    for (let i = 0; i < RECORDS; i++) last = await primary.append(payloadFor(i));
    await primary.close();
    // Two copies of three with the hole: nats-server places each follower's consumer on a
    // server of its choosing, so most followers are served a hole first.
    for (const node of ['n1', 'n2'])
      expect((await cutAHoleIn(node, stream)).length).toBeGreaterThan(0);

    let holesMet = 0;
    for (let f = 0; f < FOLLOWERS && holesMet === 0; f++) {
      const dir = tempDir();
      const follower = await Follower.open(dir, { servers: cluster().servers, stream });
      opened.push(follower);
      const stopped = await follower.waitFor(last, 60_000).then(
        () => null,
        (error: unknown) => error,
      );
      if (stopped !== null) {
        // nats-server 2.9.10 places a follower's consumers with a bias, not at random: one
        // may spend its turns on the holed copies. It must say so, naming only those.
        expect(stopped).toMatchObject({ code: 'WAL_DIVERGED' });
        expect(String(stopped)).toMatch(/copies this follower was served \(from n[12], n[12]\)/);
        await follower.close();
        continue;
      }
      expect(follower.error).toBeNull();
      holesMet += follower.stats().holesMet;
      await follower.close();
      expect(contiguous(await readLog(dir))).toBe(Number(last));
    }
    // Else every follower's first consumer was placed on n3: (1/3)^8, once in 6,561 runs.
    expect(holesMet).toBeGreaterThanOrEqual(1);
  });

  it('stops the follower, naming the servers, once every copy served a hole', async () => {
    const stream = streamName('holes');
    const primary = await openPrimary(stream, { streamMaxBytes: STREAM_MAX_BYTES });
    for (let i = 0; i < RECORDS; i++) await primary.append(payloadFor(i));
    await primary.close();
    for (const node of ['n1', 'n2', 'n3']) {
      expect((await cutAHoleIn(node, stream)).length).toBeGreaterThan(0);
    }
    await cluster().streamLeader(stream);

    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    const stopped = await expectWalError(
      follower.waitFor(BigInt(RECORDS), 120_000),
      'WAL_DIVERGED',
    );
    // Every server, or (consumers placed with 2.9.10's bias) the ones it was served, by name.
    expect(stopped.message).toMatch(
      /misses LSNs \d+–\d+ in its middle as (every server holding it \(n\d, n\d, n\d\)|\d+ copies this follower was served \(from n\d(, n\d)*\)) served it/,
    );
    expect(follower.error).toBe(stopped);
    // Bounded: at most twelve meetings of each hole.
    expect(follower.stats().holesMet).toBeLessThanOrEqual(3 * 12);
  });
});
