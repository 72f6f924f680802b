import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEpochMessage, encodeRecordsMessage, messageCrc } from '../cluster/message.js';
import { Applier } from './applier.js';

afterEach(removeTempDirs);

function payload(i: number): Buffer {
  return Buffer.from(`record ${i}`);
}

function records(from: number, to: number) {
  return Array.from({ length: to - from + 1 }, (_, k) => ({ payload: payload(from + k) }));
}

/** A replica log holding LSNs 1..`count` of epoch 1, and an applier over it. */
async function replicaAt(count: number) {
  const dir = tempDir('walnut-applier-');
  const wal = await Wal.open(dir).storageIo('sync-fs').build();
  const applier = new Applier(wal, 'orders');
  await applier.apply(encodeEpochMessage(1, 0n), 1);
  await applier.apply(encodeRecordsMessage(1, 1n, records(1, count)), 2);
  await applier.drain();
  return { wal, applier };
}

async function payloads(wal: Wal): Promise<string[]> {
  const out: string[] = [];
  await wal.replay(1n, (r) => {
    out.push(`${r.lsn}:${Buffer.from(r.payload).toString()}`);
  });
  return out;
}

describe('a replica applying a re-seeded stream', () => {
  it('checks what it already holds and appends only what follows, once', async () => {
    const { wal, applier } = await replicaAt(6);
    await applier.apply(encodeEpochMessage(3, 2n, true), 3);
    await applier.apply(encodeRecordsMessage(3, 3n, records(3, 4)), 4);
    await applier.apply(encodeRecordsMessage(3, 5n, records(5, 9)), 5);
    await applier.drain();
    expect(await payloads(wal)).toEqual(
      Array.from({ length: 9 }, (_, k) => `${k + 1}:record ${k + 1}`),
    );
    await wal.close();
  });

  it('refuses with WAL_DIVERGED, naming the first LSN that differs, a stream re-seeded with another history', async () => {
    const { wal, applier } = await replicaAt(6);
    await applier.apply(encodeEpochMessage(3, 2n, true), 3);
    const other = [{ payload: payload(3) }, { payload: Buffer.from('not record 4') }];
    expect(
      await expectWalError(applier.apply(encodeRecordsMessage(3, 3n, other), 4), 'WAL_DIVERGED'),
    ).toMatchObject({ details: { from: 4n, to: 6n, seq: 4 } });
    await wal.close();
  });

  it('still refuses a plain epoch marker below its position, naming both ways it comes about', async () => {
    const { wal, applier } = await replicaAt(6);
    const refused = await expectWalError(
      applier.apply(encodeEpochMessage(3, 4n), 3),
      'WAL_DIVERGED',
    );
    expect(refused).toMatchObject({ details: { from: 5n, to: 6n } });
    // A follower's records beyond it came from the stream: "never replicated" alone misled.
    expect(refused.message).toMatch(
      /LSNs 5–6 here are not in the stream's history\. Either they were never replicated .*, or the stream lost them after this replica applied them/,
    );
    await wal.close();
  });
});

describe('a replica meeting a message of an older epoch after a newer epoch began', () => {
  /** A replica at LSN 6 (epoch 1) that applied epoch 2's marker at sequence 3, after LSN 6. */
  async function inEpochTwo() {
    const replica = await replicaAt(6);
    await replica.applier.apply(encodeEpochMessage(2, 6n), 3);
    return replica;
  }

  const fenced = [{ payload: Buffer.from('fenced 7') }, { payload: Buffer.from('fenced 8') }];

  it('skips it, applies nothing of it, and applies the newer epoch carrying on', async () => {
    const { wal, applier } = await inEpochTwo();
    await applier.apply(encodeRecordsMessage(1, 7n, fenced), 4);
    await applier.apply(encodeRecordsMessage(2, 7n, records(7, 9)), 5);
    await applier.drain();
    expect(await payloads(wal)).toEqual(
      Array.from({ length: 9 }, (_, k) => `${k + 1}:record ${k + 1}`),
    );
    expect({ stale: applier.stale, lastSeq: applier.lastSeq, epoch: applier.epoch }).toEqual({
      stale: 1,
      lastSeq: 5,
      epoch: 2,
    });
    await wal.close();
  });

  it('still refuses the gap the newer epoch leaves after it', async () => {
    const { wal, applier } = await inEpochTwo();
    await applier.apply(encodeRecordsMessage(1, 7n, fenced), 4);
    expect(
      await expectWalError(
        applier.apply(encodeRecordsMessage(2, 9n, records(9, 9)), 5),
        'WAL_DIVERGED',
      ),
    ).toMatchObject({ details: { needFrom: 7n, streamHas: 9n } });
    await wal.close();
  });

  it('leaves it out of its running checksum: unknown until the next marker', async () => {
    const { wal, applier } = await inEpochTwo();
    await applier.apply(encodeRecordsMessage(2, 7n, records(7, 7)), 4);
    const before = applier.runs.at(2, 3, 4);
    await applier.apply(encodeRecordsMessage(1, 8n, fenced.slice(1)), 5);
    await applier.apply(encodeRecordsMessage(2, 8n, records(8, 8)), 6);
    await applier.drain();
    expect({ before: before !== null, after: applier.runs.at(2, 3, 6) }).toEqual({
      before: true,
      after: null,
    });
    await wal.close();
  });
});

describe('a replica served a copy with a hole in its middle', () => {
  const past = () => encodeRecordsMessage(1, 7n, records(7, 8));
  const after = () => encodeRecordsMessage(1, 9n, records(9, 9));

  it('counts nothing of the message past the hole, and carries on when another copy fills it', async () => {
    const { wal, applier } = await replicaAt(6);
    const before = { lastSeq: applier.lastSeq, messages: applier.messages };
    const gap = await expectWalError(applier.apply(after(), 4), 'WAL_DIVERGED');
    expect(gap).toMatchObject({ details: { needFrom: 7n, streamHas: 9n } });
    expect({ lastSeq: applier.lastSeq, messages: applier.messages }).toEqual(before);
    // Another server's copy, from the sequence after the last applied (the copies share them).
    await applier.apply(past(), 3);
    await applier.apply(after(), 4);
    await applier.drain();
    expect(await payloads(wal)).toEqual(
      Array.from({ length: 9 }, (_, k) => `${k + 1}:record ${k + 1}`),
    );
    const whole = await replicaAt(6);
    await whole.applier.apply(past(), 3);
    await whole.applier.apply(after(), 4);
    expect(applier.runs.at(1, 1, 4)).toBe(whole.applier.runs.at(1, 1, 4));
    await wal.close();
    await whole.wal.close();
  });
});

describe('a message that names the message it was published after (decision 0918)', () => {
  /** Epoch 1's marker at sequence 1 and its records at 2, each naming the one before. */
  async function chained() {
    const dir = tempDir('walnut-applier-');
    const wal = await Wal.open(dir).storageIo('sync-fs').build();
    const applier = new Applier(wal, 'orders');
    const marker = encodeEpochMessage(1, 0n);
    const first = encodeRecordsMessage(1, 1n, records(1, 3), undefined, messageCrc(marker));
    await applier.apply(marker, 1);
    await applier.apply(first, 2);
    return { wal, applier, first };
  }

  it('is applied when the stream holds that message at the sequence before', async () => {
    const { wal, applier, first } = await chained();
    await applier.apply(
      encodeRecordsMessage(1, 4n, records(4, 5), undefined, messageCrc(first)),
      3,
    );
    await applier.drain();
    expect(await payloads(wal)).toHaveLength(5);
    await wal.close();
  });

  it('is WAL_DIVERGED when the stream holds another message there: the copies forked', async () => {
    const { wal, applier, first } = await chained();
    // Another writer's message took sequence 2 in the copy served; this one followed the first.
    const other = encodeRecordsMessage(1, 1n, records(1, 3), undefined, 0x1234);
    expect(messageCrc(other)).not.toBe(messageCrc(first));
    const next = encodeRecordsMessage(1, 4n, records(4, 5), undefined, messageCrc(other));
    expect(await expectWalError(applier.apply(next, 3), 'WAL_DIVERGED')).toMatchObject({
      details: { seq: 3, prev: messageCrc(other), held: messageCrc(first) },
    });
    await wal.close();
  });

  it('is not checked when it does not say (0), or when the message before was not taken', async () => {
    const { wal, applier } = await chained();
    await applier.apply(encodeRecordsMessage(1, 4n, records(4, 4)), 3);
    // Sequence 5 is missing from the copy (a hole): nothing to compare with.
    const afterHole = encodeRecordsMessage(1, 5n, records(5, 5), undefined, 0x1234);
    await applier.apply(afterHole, 5);
    await applier.apply(encodeEpochMessage(2, 5n, false, messageCrc(afterHole)), 6);
    // A fenced writer's message skipped as stale: the next is not compared with it.
    await applier.apply(encodeRecordsMessage(1, 6n, [{ payload: Buffer.from('fenced') }]), 7);
    await applier.apply(encodeRecordsMessage(2, 6n, records(6, 6), undefined, 0x9abc), 8);
    await applier.drain();
    expect(await payloads(wal)).toHaveLength(6);
    await wal.close();
  });
});
