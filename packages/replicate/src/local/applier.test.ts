import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeEpochMessage, encodeRecordsMessage } from '../cluster/message.js';
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

  it('still refuses a plain epoch marker below its position: the tail of a fenced primary', async () => {
    const { wal, applier } = await replicaAt(6);
    expect(
      await expectWalError(applier.apply(encodeEpochMessage(3, 4n), 3), 'WAL_DIVERGED'),
    ).toMatchObject({ details: { from: 5n, to: 6n } });
    await wal.close();
  });
});
