import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import type { ClusterLink, StreamPosition } from '../cluster/link.js';
import { encodeEpochMessage, encodeRecordsMessage, messageCrc } from '../cluster/message.js';
import { heldOfThisHistory } from './history.js';

afterEach(removeTempDirs);

const own = (lsn: number) => ({ payload: Buffer.from(`own ${lsn}`) });
const foreign = (lsn: number) => ({ payload: Buffer.from(`foreign ${lsn}`) });

/** A log holding LSNs 1..`count`, each record `own(lsn)`. */
async function logOf(count: number): Promise<Wal> {
  const wal = await Wal.open(tempDir('walnut-history-')).storageIo('sync-fs').build();
  for (let lsn = 1; lsn <= count; lsn++) await wal.append(own(lsn).payload);
  return wal;
}

/** A stream of `messages` (sequence 1 first), read through the one call the walk makes. */
function streamOf(messages: readonly (Uint8Array | null)[]) {
  const link = {
    names: { stream: 'orders' },
    messageAt: async (seq: number) => messages[seq - 1] ?? null,
  } as unknown as ClusterLink;
  const position = { seq: messages.length } as StreamPosition;
  return { link, position };
}

/** One records message per LSN from `from` to `to`, each made by `make`. */
function single(from: number, to: number, make: typeof own): Uint8Array[] {
  const out = [];
  for (let lsn = from; lsn <= to; lsn++) {
    out.push(encodeRecordsMessage(1, BigInt(lsn), [make(lsn)]));
  }
  return out;
}

describe('what a re-seed counts as already in the stream', () => {
  it('is the last LSN of the stream when its newest message is this log', async () => {
    const wal = await logOf(50);
    const { link, position } = streamOf([encodeEpochMessage(1, 0n), ...single(1, 50, own)]);
    expect(await heldOfThisHistory(link, wal, position)).toBe(50n);
    await wal.close();
  });

  it('walks back over another history and markers, across many reads of the log, to the newest message of its own', async () => {
    const wal = await logOf(300);
    // Own records up to 120 in messages of 10, then 200 foreign single-record messages
    // holding LSNs 121..320 (more than one read's worth), a marker among them.
    const mine = [];
    for (let lsn = 1; lsn <= 120; lsn += 10) {
      mine.push(
        encodeRecordsMessage(
          1,
          BigInt(lsn),
          Array.from({ length: 10 }, (_, k) => own(lsn + k)),
        ),
      );
    }
    const others = single(121, 220, foreign);
    const stream = [
      encodeEpochMessage(1, 0n),
      ...mine,
      ...others,
      encodeEpochMessage(2, 220n),
      ...single(221, 320, foreign),
    ];
    const { link, position } = streamOf(stream);
    // Each read of the log scans its segment up to where it starts: one per message walked
    // made a 4,096-message walk take minutes. 214 messages walked take 4 reads of the log.
    const iterator = wal.iterator.bind(wal);
    let reads = 0;
    wal.iterator = (from) => {
      reads++;
      return iterator(from);
    };
    expect(await heldOfThisHistory(link, wal, position)).toBe(120n);
    expect(reads).toBe(4);
    await wal.close();
  });

  it('counts nothing it walked over when no message agrees, nor past a trimmed one', async () => {
    const wal = await logOf(40);
    const none = streamOf([encodeEpochMessage(1, 0n), ...single(1, 40, foreign)]);
    expect(await heldOfThisHistory(none.link, wal, none.position)).toBe(0n);
    // Sequences 1..10 trimmed: the walk stops at sequence 11 (LSN 11), none of it agreeing.
    const trimmed = streamOf([...Array<null>(10).fill(null), ...single(11, 40, foreign)]);
    expect(await heldOfThisHistory(trimmed.link, wal, trimmed.position)).toBe(10n);
    await wal.close();
  });

  it('counts nothing above a fork: a message that names a predecessor other than the one stored before it', async () => {
    // Seed 7878's stores: after LSN 40, another primary's messages (LSNs 41..46) hold the
    // sequences where this log's marker and LSNs 41..59 were; this log's next message (LSNs
    // 60..70), stored after them, names its own lost predecessor.
    const wal = await logOf(70);
    const common = single(1, 40, own);
    const lostPredecessor = encodeRecordsMessage(5, 59n, [own(59)]);
    const after = encodeRecordsMessage(
      5,
      60n,
      Array.from({ length: 11 }, (_, k) => own(60 + k)),
      undefined,
      messageCrc(lostPredecessor),
    );
    const forked = streamOf([...common, ...single(41, 46, foreign), after]);
    expect(await heldOfThisHistory(forked.link, wal, forked.position)).toBe(40n);
    // Chained on the message stored before it, the same message counts.
    const others = single(41, 46, foreign);
    const chained = encodeRecordsMessage(
      5,
      60n,
      Array.from({ length: 11 }, (_, k) => own(60 + k)),
      undefined,
      messageCrc(others[others.length - 1]!),
    );
    const whole = streamOf([...common, ...others, chained]);
    expect(await heldOfThisHistory(whole.link, wal, whole.position)).toBe(70n);
    await wal.close();
  });

  it("takes an older epoch's message stored after a newer marker for a stale one, not a fork", async () => {
    // Decision 0914: the old primary's message (LSN 41, foreign) landed after the new
    // epoch's marker; the new primary's next message chains on it.
    const wal = await logOf(45);
    const marker = encodeEpochMessage(2, 40n, false, 0);
    const stale = encodeRecordsMessage(1, 41n, [foreign(41)], undefined, 0xdead);
    const next = encodeRecordsMessage(
      2,
      41n,
      Array.from({ length: 5 }, (_, k) => own(41 + k)),
      undefined,
      messageCrc(stale),
    );
    const { link, position } = streamOf([...single(1, 40, own), marker, stale, next]);
    expect(await heldOfThisHistory(link, wal, position)).toBe(45n);
    await wal.close();
  });

  it('counts a message only when every one of its records is the log, byte for byte', async () => {
    const wal = await logOf(30);
    const mixed = encodeRecordsMessage(1, 21n, [own(21), own(22), foreign(23), own(24)]);
    const { link, position } = streamOf([...single(1, 20, own), mixed]);
    expect(await heldOfThisHistory(link, wal, position)).toBe(20n);
    await wal.close();
  });
});
