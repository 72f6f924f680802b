import type { Wal } from '@walnut/wal';
import type { ClusterLink, StreamPosition } from '../cluster/link.js';
import {
  type DecodedMessage,
  decodeHeader,
  decodeMessage,
  MessageKind,
  messageCrc,
} from '../cluster/message.js';
import { forkedBetween } from '../cluster/stream-fork.js';
import { sameRecord } from './shipped-records.js';

/** Messages walked back from the stream's end, at most, looking for this log's content. */
const WALK_LIMIT = 4096;
/**
 * Messages compared with the log in one read of it. An iterator starts by scanning its
 * segment up to the LSN asked for (about 100 ms mid-way through a 64 MiB segment here), so
 * one per message made a walk of 4,096 messages take minutes, with nothing shipped.
 */
const WALK_CHUNK = 64;

/**
 * The last LSN the stream holds with this log's content, at or before the message at
 * `position`: what a re-seed may count as already replicated (decision 0909). The stream's
 * last message says which LSNs it holds, not whose records they are: an older primary's
 * messages stored after a takeover, or a replica's other history, hold the same LSNs with
 * other bytes. So the records are compared with the log's, walking back over markers and
 * foreign messages (at most WALK_LIMIT, WALK_CHUNK at a time); the newest that agrees
 * counts, unless a message above it names a predecessor the stream does not hold there (a
 * fork of the copies); when none agrees, nothing walked over is counted.
 */
export async function heldOfThisHistory(
  link: ClusterLink,
  wal: Wal,
  position: StreamPosition,
): Promise<bigint> {
  let floor = 0n;
  let seq = position.seq;
  // The message walked last (one sequence newer): its `prev` (0: not known) and epoch.
  let newer = { prev: 0, epoch: 0 };
  for (let walked = 0; seq > 0 && walked < WALK_LIMIT; ) {
    // Newest first, as walked.
    const chunk: DecodedMessage[] = [];
    let trimmed = false;
    for (; chunk.length < WALK_CHUNK && seq > 0 && walked < WALK_LIMIT; seq--, walked++) {
      const data = await link.messageAt(seq);
      if (data === null) {
        trimmed = true; // trimmed (or deleted) from here back
        break;
      }
      const message = decodeMessage(data, `${link.names.stream}#${seq}`);
      // The copies forked between this message and the next: what was walked above is not
      // contiguous with what lies below, so none of it counts.
      if (forkedBetween({ crc: messageCrc(data), epoch: message.epoch }, newer)) chunk.length = 0;
      newer = message;
      chunk.push(message);
    }
    const held = await newestHeld(wal, chunk);
    if (held !== null) return held;
    if (chunk.length > 0) floor = chunk[chunk.length - 1]!.firstLsn - 1n;
    if (trimmed) return floor;
  }
  return floor;
}

/**
 * The last LSN of the newest message of `chunk` (newest first) whose records are the log's,
 * byte for byte; null when none is. The log is read once, over the LSNs they span; a
 * message below the log's floor counts as not held.
 */
async function newestHeld(wal: Wal, chunk: readonly DecodedMessage[]): Promise<bigint | null> {
  const candidates = chunk.filter(
    (m) =>
      m.kind !== MessageKind.EPOCH &&
      m.records.length > 0 &&
      // Below the log's floor nothing can be compared: not counted as held.
      m.records[0]!.lsn >= wal.floorLsn &&
      m.records[m.records.length - 1]!.lsn <= wal.lastLsn,
  );
  if (candidates.length === 0) return null;
  let from = candidates[0]!.records[0]!.lsn;
  let to = from;
  for (const m of candidates) {
    const first = m.records[0]!.lsn;
    const last = m.records[m.records.length - 1]!.lsn;
    if (first < from) from = first;
    if (last > to) to = last;
  }
  // Per candidate: records that matched so far, or -1 once one did not.
  const matched = new Array<number>(candidates.length).fill(0);
  for await (const record of wal.iterator(from)) {
    if (record.lsn > to) break;
    for (const [i, m] of candidates.entries()) {
      const at = Number(record.lsn - m.records[0]!.lsn);
      if (matched[i] === -1 || at < 0 || at >= m.records.length) continue;
      matched[i] = at === matched[i] && sameRecord(record, m.records[at]!) ? at + 1 : -1;
    }
  }
  for (const [i, m] of candidates.entries()) {
    if (matched[i] === m.records.length) return m.lastLsn;
  }
  return null;
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
