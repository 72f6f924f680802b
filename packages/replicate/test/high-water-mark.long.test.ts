import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { expectWalError, payloadFor, tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { readLease } from '../src/cluster/lease.js';
import { type Mark, readMark, writeMark } from '../src/cluster/mark.js';
import {
  decodeMessage,
  encodeEpochMessage,
  encodeRecordsMessage,
  MessageKind,
  messageCrc,
} from '../src/cluster/message.js';
import { Follower } from '../src/index.js';
import { beginRun, type EpochRun, extendRun } from '../src/local/running-checksum.js';
import { names } from '../src/options.js';
import { sleep } from '../src/testing/index.js';
import { streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

/** Runs `use` with the lease bucket of `stream`, where the primary keeps its mark. */
async function withBucket<T>(
  stream: string,
  use: (kv: Awaited<ReturnType<Kvm['open']>>) => Promise<T>,
): Promise<T> {
  const nc = await connect({ servers: cluster().servers });
  try {
    return await use(await new Kvm(jetstream(nc)).open(names(stream).kvBucket));
  } finally {
    await nc.close();
  }
}

/** Waits until the primary's mark names sequence `seq`, and returns it. */
async function markAt(stream: string, seq: number): Promise<Mark | null> {
  let mark = null as Mark | null;
  for (let look = 0; look < 100 && mark?.seq !== seq; look++) {
    mark = await withBucket(stream, readMark);
    if (mark?.seq !== seq) await sleep(100);
  }
  return mark;
}

/**
 * Deletes `stream` and stores its messages again in a new one of the same config, each as
 * `rewrite` returns it: the copy a server that holds another history would serve.
 */
async function rewriteStream(
  stream: string,
  rewrite: (seq: number, data: Uint8Array) => Uint8Array,
): Promise<void> {
  const nc = await connect({ servers: cluster().servers });
  try {
    const jsm = await jetstreamManager(nc);
    const { config, state } = await jsm.streams.info(stream);
    const messages: Uint8Array[] = [];
    for (let seq = 1; seq <= state.last_seq; seq++) {
      messages.push((await jsm.streams.getMessage(stream, { seq }))!.data);
    }
    await jsm.streams.delete(stream);
    await jsm.streams.add(config);
    const js = jetstream(nc);
    for (const [i, data] of messages.entries()) {
      await js.publish(names(stream).subject, rewrite(i + 1, data));
    }
  } finally {
    await nc.close();
  }
}

describe("the primary's high-water mark", () => {
  it('records the last message the primary saw stored, and a follower refuses a stream served short of it', async () => {
    const stream = streamName('mark');
    const primary = await openPrimary(stream);
    for (let i = 0; i < 40; i++) await primary.append(payloadFor(i));
    const streamSeq = primary.stats().streamSeq;
    let mark: Mark | null = null;
    for (let look = 0; look < 100 && mark?.lsn !== 40n; look++) {
      mark = await withBucket(stream, readMark);
      if (mark?.lsn !== 40n) await sleep(100);
    }
    expect(mark).toMatchObject({ epoch: 1, lsn: 40n, seq: streamSeq });
    await primary.close();

    // The state a replica left behind and reported current gives a reader: the mark says
    // the primary saw sequence 200 (LSN 100) stored, the stream served ends at LSN 40.
    await withBucket(stream, (kv) => writeMark(kv, { ...mark!, lsn: 100n, seq: 200 }));
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    await follower.waitFor(40n, 20_000);
    const refused = await expectWalError(follower.waitFor(41n, 30_000), 'WAL_BAD_STATE');
    expect(refused.message).toMatch(/short of what its primary saw stored \(sequence 200, LSN 100/);
    expect(follower.stats().lastError).toBe(refused.message);
    // Refused at once while the stream stays short: no quiet "caught up".
    await expectWalError(follower.waitFor(41n, 30_000), 'WAL_BAD_STATE');
  }, 90_000);

  it('refuses to promote a follower over a stream served short of it, unless told the loss is accepted', async () => {
    const stream = streamName('promote-short');
    const primary = await openPrimary(stream);
    for (let i = 0; i < 40; i++) await primary.append(payloadFor(i));
    const mark = await markAt(stream, primary.stats().streamSeq);
    await primary.close();
    // The primary saw LSN 100 stored; the copy served now ends at LSN 40.
    await withBucket(stream, (kv) => writeMark(kv, { ...mark!, lsn: 100n, seq: mark!.seq + 60 }));
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    await follower.waitFor(40n, 20_000);

    const refused = await expectWalError(follower.promote(), 'WAL_BAD_STATE');
    expect(refused.message).toMatch(/short of what its primary saw stored/);
    expect(refused.message).toMatch(/acceptLoss: true/);
    // Nothing was taken: the lease is the old primary's, and the follower still follows.
    expect((await withBucket(stream, readLease))?.lease.epoch).toBe(1);
    expect(follower.stats().failed).toBeNull();
    await expectWalError(follower.promote({ acceptLoss: 'yes' as never }), 'WAL_BAD_ARGUMENT');

    const promoted = await follower.promote({ acceptLoss: true });
    opened.push(promoted);
    expect(promoted.epoch).toBe(2);
    expect(await promoted.append(payloadFor(40))).toBe(41n);
  }, 90_000);

  it('stops a follower whose applied messages have another running checksum than the mark', async () => {
    const stream = streamName('run');
    const primary = await openPrimary(stream);
    for (let i = 0; i < 40; i++) await primary.append(payloadFor(i));
    const mark = await markAt(stream, primary.stats().streamSeq);
    await primary.close();

    // As a primary from before decision 0918 wrote it, which named no message's predecessor
    // (prev 0, so only the mark can tell), and one message before the marked one holding
    // other bytes at the same LSNs: every LSN follows on.
    const asWritten = (data: Uint8Array, other: boolean) => {
      const m = decodeMessage(data, 'test');
      if (m.kind === MessageKind.EPOCH) {
        return encodeEpochMessage(m.epoch, m.lastLsn, m.flags !== 0);
      }
      const records = m.records.map((r) => ({
        payload: other ? Buffer.from('another history') : r.payload,
      }));
      return encodeRecordsMessage(m.epoch, m.firstLsn, records);
    };
    let run = beginRun(mark!.epoch, mark!.run!.from) as EpochRun | null;
    let marked = 0;
    await rewriteStream(stream, (seq, data) => {
      const written = asWritten(data, false);
      if (seq > mark!.run!.from && seq <= mark!.seq) run = extendRun(run, seq, messageCrc(written));
      if (seq === mark!.seq) marked = messageCrc(written);
      return seq === 10 ? asWritten(data, true) : written;
    });
    // The mark that primary kept: its marked message's CRC, and the running checksum of what it stored.
    await withBucket(stream, (kv) =>
      writeMark(kv, { ...mark!, crc: marked, run: { from: mark!.run!.from, value: run!.value } }),
    );
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    await follower.waitFor(mark!.lsn, 20_000);
    const refused = await expectWalError(follower.waitFor(mark!.lsn + 1n, 30_000), 'WAL_DIVERGED');
    expect(refused.message).toMatch(/running checksum/);
    expect(follower.error).toBe(refused);
  }, 90_000);

  it('stops a follower at the message after one replaced by another history (decision 0918)', async () => {
    const stream = streamName('fork');
    const primary = await openPrimary(stream);
    for (let i = 0; i < 40; i++) await primary.append(payloadFor(i));
    const last = primary.stats().lastLsn;
    await primary.close();
    await rewriteStream(stream, (seq, data) => {
      if (seq !== 10) return data;
      const m = decodeMessage(data, 'test');
      const other = m.records.map(() => ({ payload: Buffer.from('another history') }));
      return encodeRecordsMessage(m.epoch, m.firstLsn, other, undefined, m.prev);
    });
    const follower = await Follower.open(tempDir(), { servers: cluster().servers, stream });
    opened.push(follower);
    const refused = await expectWalError(follower.waitFor(last, 30_000), 'WAL_DIVERGED');
    expect(refused.message).toMatch(/forked/);
    expect(follower.error).toMatchObject({ details: { seq: 11 } });
  }, 90_000);
});
