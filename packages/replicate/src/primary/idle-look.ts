import { type ClusterLink, lastLsnInStream, type StreamPosition } from '../cluster/link.js';
import { forkBelowEnd } from '../cluster/stream-fork.js';

/**
 * How often an idle shipper looks at the stream's end: a stream that went back (a power
 * cut, a short copy made leader) is found and re-seeded without waiting for an append.
 */
export const IDLE_LOOK_MS = 2_000;

/** What the shipper last saw stored: the end an idle look expects to find. */
export interface OwnEnd {
  readonly epoch: number;
  readonly streamSeq: number;
  readonly replicatedLsn: bigint;
  /** The CRC of the last message it stored (null: none yet in this epoch). */
  readonly crc: number | null;
}

/** Whether the stream ends where the shipper left it; anything else is for a reconcile. */
export function endsAsLeft(position: StreamPosition, own: OwnEnd): boolean {
  const header = position.header;
  return (
    header !== null &&
    header.epoch === own.epoch &&
    position.seq === own.streamSeq &&
    (position.lastSeq ?? position.seq) === own.streamSeq &&
    lastLsnInStream(position) === own.replicatedLsn &&
    (own.crc === null || position.crc === own.crc)
  );
}

/** Whether the stream's end, read now, is not where the shipper left it (`own()` once read). */
export async function endMoved(
  link: Pick<ClusterLink, 'lastPosition' | 'messageAt'>,
  own: () => OwnEnd,
): Promise<boolean> {
  const position = await link.lastPosition();
  if (!endsAsLeft(position, own())) return true;
  // As left, but the copy serving it may hold another message under it.
  return (await forkBelowEnd(link, position)) !== null;
}
