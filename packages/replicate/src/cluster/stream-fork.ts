import type { ClusterLink, StreamPosition } from './link.js';
import { crcHex, decodeHeader, messageCrc } from './message.js';

/**
 * Whether the stream's last message was stored after a message other than the one it names
 * as `prev`: the servers' copies forked below it (decision 0918), and what its writer
 * published before it is in no copy the stream is served from. A description of the fork,
 * or null when they chain or it cannot be told (a `prev` of 0, no message before it), or the
 * last one is an older epoch's, stored after a newer one.
 */
export async function forkBelowEnd(
  link: Pick<ClusterLink, 'messageAt'>,
  position: StreamPosition,
): Promise<string | null> {
  const named = position.header?.prev ?? 0;
  if (named === 0 || position.seq < 2 || position.lastSeq !== undefined) return null;
  const before = await link.messageAt(position.seq - 1);
  if (before === null) return null;
  const held = messageCrc(before);
  // After a newer epoch's message, the last one is stale (decision 0914), not a fork.
  if (held === named || decodeHeader(before, 'the message before').epoch > position.header!.epoch) {
    return null;
  }
  return `the stream's message at sequence ${position.seq} was published after a message with CRC ${crcHex(named)}, but sequence ${position.seq - 1} holds one with CRC ${crcHex(held)}: the servers' copies of the stream forked there, and what this primary stored before it is in no copy served`;
}
