import { pathOption, WalError, WalErrorCode, type WalRecord } from '@walnut/codec';
import { ClusterLink } from '../cluster/link.js';
import { decodeHeader, type MessageHeader, MessageKind } from '../cluster/message.js';
import { readStateFor, writeLocalState } from '../local/local-state.js';
import { openOnLink, openReplicaWal, verifyAgainstStream } from '../local/replica-log.js';
import { type FollowerOptions, resolveFollower } from '../options.js';
import { Follower } from './follower.js';

/** What `rejoin` cut from the old primary's log: the records the history never had. */
export interface RejoinCut {
  readonly from: bigint;
  readonly to: bigint;
  /** The records cut, in LSN order (copies: the caller may keep them, re-submit them…). */
  readonly records: WalRecord[];
}

export interface RejoinResult {
  /** The directory, following the new primary. */
  readonly follower: Follower;
  /** What was cut, or null when the log held nothing beyond the history. */
  readonly cut: RejoinCut | null;
}

/**
 * Makes a fenced primary's directory a follower of the new primary: finds where the
 * stream's history left it (the marker of the epoch that took over from it), cuts the log
 * after that LSN with `Wal.truncateAfter` — handing back what it cut — checks the rest
 * against the stream, and opens it as a `Follower`. Refuses a directory that never was
 * primary or was not taken over (WAL_BAD_STATE), and one whose takeover the stream no
 * longer holds (WAL_DIVERGED: start it in an empty directory).
 */
export async function rejoin(
  logDir: string | URL,
  options: FollowerOptions,
): Promise<RejoinResult> {
  const dir = pathOption(logDir, 'dir');
  const resolved = resolveFollower(options);
  const state = readStateFor(dir, resolved.stream);
  if (state === null || state.epoch === 0) {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `${dir} was never the primary of '${resolved.stream}'; open it with Follower.open (walnut follow) instead`,
    );
  }
  const link = await ClusterLink.open(resolved, null);
  const cut = await openOnLink(
    link,
    (maxPayload) => openReplicaWal(dir, resolved.wal, maxPayload),
    async (wal) => {
      const marker = await takeover(link, state.epoch);
      const keep = marker.lastLsn;
      let cut: RejoinCut | null = null;
      if (wal.lastLsn > keep) {
        const records: WalRecord[] = [];
        for await (const r of wal.iterator(keep + 1n)) records.push(copy(r));
        await wal.truncateAfter(keep);
        cut = { from: keep + 1n, to: records[records.length - 1]!.lsn, records };
      }
      await verifyAgainstStream(link, wal, wal.lastLsn, resolved.wal.encryption);
      writeLocalState(dir, { ...state, role: 'follower' });
      await wal.close();
      await link.close();
      return cut;
    },
  );
  return { follower: await Follower.open(dir, options), cut };
}

/**
 * The marker of the first epoch after `epoch` (epochs only grow along the stream, so a
 * binary search finds it).
 */
async function takeover(link: ClusterLink, epoch: number): Promise<MessageHeader> {
  const stream = link.names.stream;
  const headerAt = async (seq: number) => {
    const data = await link.messageAt(seq);
    return data === null ? null : decodeHeader(data, `${stream}#${seq}`);
  };
  let { first, last } = await link.bounds();
  let found: MessageHeader | null = null;
  while (first <= last) {
    const mid = Math.floor((first + last) / 2);
    const header = await headerAt(mid);
    if (header === null) return takeover(link, epoch); // trimmed meanwhile: search again
    if (header.epoch > epoch) {
      found = header;
      last = mid - 1;
    } else {
      first = mid + 1;
    }
  }
  if (found === null) {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `no node took over '${stream}' after this directory's epoch ${epoch}: it is still the primary; open it with ReplicatedWal.open`,
    );
  }
  if (found.kind !== MessageKind.EPOCH) {
    throw new WalError(
      WalErrorCode.DIVERGED,
      `the stream '${stream}' no longer holds the marker of the takeover after epoch ${epoch} (trimmed), so where this directory's history ends cannot be told; start the replica in an empty directory`,
    );
  }
  return found;
}

function copy(r: WalRecord): WalRecord {
  return {
    ...r,
    payload: Buffer.from(r.payload),
    ...(r.meta !== undefined ? { meta: Buffer.from(r.meta) } : {}),
  };
}
