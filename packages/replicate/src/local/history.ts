import type { Wal, WalRecord } from '@walnut/wal';
import type { ClusterLink, StreamPosition } from '../cluster/link.js';
import { decodeHeader, decodeMessage, MessageKind } from '../cluster/message.js';
import { sameRecord } from './shipped-records.js';

/** Messages walked back from the stream's end, at most, looking for this log's content. */
const WALK_LIMIT = 4096;

/**
 * The last LSN the stream holds with this log's content, at or before the message at
 * `position`: what a re-seed may count as already replicated (decision 0909). The stream's
 * last message says which LSNs it holds, not whose records they are: an older primary's
 * messages stored after a takeover, or a replica's other history, hold the same LSNs with
 * other bytes. So the records are compared with the log's, walking back over markers and
 * foreign messages (at most WALK_LIMIT); when none agrees, nothing walked over is counted.
 */
export async function heldOfThisHistory(
  link: ClusterLink,
  wal: Wal,
  position: StreamPosition,
): Promise<bigint> {
  let floor = 0n;
  for (let seq = position.seq, walked = 0; seq > 0 && walked < WALK_LIMIT; seq--, walked++) {
    const data = await link.messageAt(seq);
    if (data === null) return floor; // trimmed (or deleted) from here back
    const message = decodeMessage(data, `${link.names.stream}#${seq}`);
    floor = message.firstLsn - 1n;
    if (message.kind === MessageKind.EPOCH) continue;
    if (await holdsSame(wal, message.records)) return message.lastLsn;
  }
  return floor;
}

async function holdsSame(wal: Wal, records: readonly WalRecord[]): Promise<boolean> {
  const first = records[0];
  if (first === undefined || records[records.length - 1]!.lsn > wal.lastLsn) return false;
  let i = 0;
  for await (const record of wal.iterator(first.lsn)) {
    if (i >= records.length) break;
    if (!sameRecord(record, records[i]!)) return false;
    i++;
  }
  return i === records.length;
}

/**
 * After a takeover: the last of a fenced primary's LSNs in the stream's history. The next
 * epoch's marker says where it begins; without one yet, the last message of `epoch` stored
 * after sequence `afterSeq` (up to which LSN `replicatedLsn` was acknowledged). Looks at no
 * more than `maxInFlight` messages, all that could have been in flight; never past the
 * local log's last LSN.
 */
export async function historyEnd(
  link: ClusterLink,
  wal: Wal,
  epoch: number,
  afterSeq: number,
  replicatedLsn: bigint,
  maxInFlight: number,
): Promise<bigint> {
  let inHistory = replicatedLsn;
  const from = afterSeq + 1;
  for (let seq = from; seq <= from + maxInFlight; seq++) {
    const data = await link.messageAt(seq);
    if (data === null) break;
    const header = decodeHeader(data, `${link.names.stream}#${seq}`);
    if (header.epoch > epoch) {
      if (header.kind === MessageKind.EPOCH) inHistory = header.lastLsn;
      break;
    }
    if (header.epoch === epoch && header.kind === MessageKind.RECORDS) {
      inHistory = header.lastLsn;
    }
  }
  const last = wal.lastLsn;
  if (last < inHistory) return last;
  return inHistory;
}
