import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { payloadFor, tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  decodeMessage,
  encodeRecordsMessage,
  MessageKind,
  RESEED_FLAG,
} from '../src/cluster/message.js';
import { Follower, ReplicatedWal } from '../src/index.js';
import { names } from '../src/options.js';
import { sleep, TcpProxy } from '../src/testing/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary, followerCopy } = useReplication();

/** Every stored message's bytes, in stream order. */
async function streamMessages(stream: string): Promise<Uint8Array[]> {
  const nc = await connect({ servers: cluster().servers });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Uint8Array[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      out.push((await jsm.streams.getMessage(stream, { seq }))!.data);
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Each stored message's epoch and kind, in stream order. */
async function streamEpochs(stream: string): Promise<{ epoch: number; marker: boolean }[]> {
  return (await streamMessages(stream)).map((data, i) => {
    const header = decodeHeader(data, `${stream}#${i + 1}`);
    return { epoch: header.epoch, marker: header.kind === MessageKind.EPOCH };
  });
}

describe('an old primary whose link stalled through a promotion', () => {
  it('stores nothing after the new epoch marker once the link heals, and every record the new primary acknowledged reaches a fresh follower', async () => {
    const stream = streamName('healed');
    // The old primary reaches the cluster through a proxy the test can stall: bytes are
    // kept, not dropped, and delivered when it heals; the process stays alive throughout.
    const proxy = await TcpProxy.start(cluster().nodes[0]!.spec.clientPort);
    opened.push({ close: () => proxy.stop() });
    const old = await openPrimary(stream, {
      servers: [proxy.url],
      connection: { ignoreClusterUpdates: true },
      requestTimeoutMs: 20_000,
      replicationTimeoutMs: 30_000,
    });
    for (let i = 0; i < 40; i++) await old.append(payloadFor(i));
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    await follower.waitFor(40n, 20_000);

    // Stalled, the old primary keeps publishing: each append a message of its own, chained
    // on the one before (held in the proxy, none answered).
    proxy.hold();
    const stalled: Promise<unknown>[] = [];
    for (let i = 0; i < 8; i++) {
      stalled.push(old.append(payloadFor(5000 + i)).catch((error: unknown) => error));
      await sleep(30);
    }
    const promoted = await follower.promote({ replicationTimeoutMs: 30_000 });
    opened.push(promoted);
    expect(promoted.epoch).toBe(2);
    // The link heals before the new primary appends: the held publishes reach the stream
    // right after the new epoch's marker.
    proxy.release();
    await Promise.all(stalled);

    for (let i = 40; i < 60; i++) expect(await promoted.append(payloadFor(i))).toBe(BigInt(i + 1));
    expect(promoted.replicatedLsn).toBe(60n);

    // No message of an older epoch follows a newer epoch's marker.
    let newest = 0;
    for (const [seq, m] of (await streamEpochs(stream)).entries()) {
      expect(m.epoch, `the epoch of message ${seq + 1}`).toBeGreaterThanOrEqual(newest);
      if (m.marker) newest = m.epoch;
    }
    // Every record the new primary acknowledged is in the stream with its bytes.
    const copy = await followerCopy(stream, 60n);
    expect(contiguous(copy)).toBe(60);
    for (const [i, r] of copy.entries()) expect(r.payload.equals(payloadFor(i))).toBe(true);
    await promoted.close();
    const own = await readLog(promoted.dir);
    expect(own.map((r) => r.payload)).toEqual(copy.map((r) => r.payload));
  }, 120_000);

  /**
   * A primary reopened at epoch 2 (its marker after LSN 20), then an epoch-1 message of
   * another history stored after that marker: LSNs 21-25 with other bytes. An old primary
   * chained on sequences alone once made this; a server's copy out of order holds it too.
   */
  async function foreignAfterMarker(what: string) {
    const stream = streamName(what);
    const first = await openPrimary(stream);
    for (let i = 0; i < 20; i++) await first.append(payloadFor(i));
    await first.close();
    const primary = await ReplicatedWal.open(first.dir, {
      servers: cluster().servers,
      stream,
      replicas: 3,
      replicationTimeoutMs: 30_000,
    });
    opened.push(primary);
    expect(primary.epoch).toBe(2);
    const nc = await connect({ servers: cluster().servers });
    try {
      const last = (await jetstreamManager(nc).then((m) => m.streams.info(stream))).state.last_seq;
      const foreign = Array.from({ length: 5 }, (_, i) => ({ payload: payloadFor(9000 + i) }));
      await jetstream(nc).publish(names(stream).subject, encodeRecordsMessage(1, 21n, foreign), {
        msgID: 'foreign',
        expect: { lastSequence: last },
      });
    } finally {
      await nc.close();
    }
    return { stream, primary };
  }

  it('a re-seed counts as replicated only the LSNs whose content in the stream is its own', async () => {
    const { stream, primary } = await foreignAfterMarker('foreign');
    for (let i = 20; i < 30; i++) expect(await primary.append(payloadFor(i))).toBe(BigInt(i + 1));
    expect(primary.stats().shipper.reseeds).toBe(1);
    // The re-seeding marker claims only what is this log's (up to LSN 20), and every one of
    // the primary's records after it is in the stream with its own bytes.
    const messages = (await streamMessages(stream)).map((m, i) => decodeMessage(m, `#${i + 1}`));
    const at = messages.findLastIndex(
      (m) => m.kind === MessageKind.EPOCH && (m.flags & RESEED_FLAG) !== 0,
    );
    expect(at).toBeGreaterThan(0);
    expect(messages[at]!.firstLsn - 1n).toBe(20n);
    const after = messages.slice(at + 1).flatMap((m) => m.records);
    expect(after.map((r) => r.lsn)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(21 + i)));
    for (const r of after)
      expect(Buffer.from(r.payload).equals(payloadFor(Number(r.lsn) - 1))).toBe(true);
  }, 120_000);

  it("a fresh follower skips an older epoch's message stored after a newer marker and holds the primary's log", async () => {
    const { stream, primary } = await foreignAfterMarker('skipped');
    for (let i = 20; i < 30; i++) await primary.append(payloadFor(i));
    const dir = tempDir();
    const follower = await Follower.open(dir, { servers: cluster().servers, stream });
    opened.push(follower);
    await follower.waitFor(30n, 20_000);
    expect(follower.stats().staleMessages).toBe(1);
    await follower.close();
    const copy = await readLog(dir);
    expect(copy.map((r) => r.lsn)).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i + 1)));
    for (const r of copy) expect(r.payload.equals(payloadFor(Number(r.lsn) - 1))).toBe(true);
  }, 120_000);

  it('a primary opening on servers that forgot the last message id (2.9.10 after a restart) still publishes', async () => {
    const stream = streamName('forgot');
    const first = await openPrimary(stream);
    for (let i = 0; i < 10; i++) await first.append(payloadFor(i));
    await first.close();
    // A restarted 2.9.10 server rebuilds the last id only from the duplicate window: with
    // that window past, it refuses any expected id although the stream ends with it.
    const nc = await connect({ servers: cluster().servers });
    try {
      const jsm = await jetstreamManager(nc);
      await jsm.streams.update(stream, { duplicate_window: 100_000_000 });
    } finally {
      await nc.close();
    }
    await sleep(200);
    await Promise.all(cluster().nodes.map((n) => n.kill()));
    await Promise.all(cluster().nodes.map((n) => n.start()));

    const primary = await ReplicatedWal.open(first.dir, {
      servers: cluster().servers,
      stream,
      replicas: 3,
    });
    opened.push(primary);
    for (let i = 10; i < 20; i++) expect(await primary.append(payloadFor(i))).toBe(BigInt(i + 1));
    expect(primary.replicatedLsn).toBe(20n);
  }, 120_000);
});
