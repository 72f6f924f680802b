import type { ClusterLink, StreamPosition } from './link.js';
import { crcHex, decodeHeader, messageCrc } from './message.js';

/**
 * Whether the copies forked between two messages stored one after the other: the later one
 * names a predecessor (`prev`, not 0) other than the earlier one (decision 0918). A message
 * of an older epoch stored after a newer one is stale (decision 0914), not a fork.
 */
export function forkedBetween(
  earlier: { readonly crc: number; readonly epoch: number },
  later: { readonly prev: number; readonly epoch: number },
): boolean {
  return later.prev !== 0 && later.prev !== earlier.crc && later.epoch >= earlier.epoch;
}

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
  const last = position.header;
  if (last === null || last.prev === 0 || position.seq < 2 || position.lastSeq !== undefined) {
    return null;
  }
  const before = await link.messageAt(position.seq - 1);
  if (before === null) return null;
  const held = messageCrc(before);
  const { epoch } = decodeHeader(before, 'the message before');
  if (!forkedBetween({ crc: held, epoch }, last)) return null;
  return `the stream's message at sequence ${position.seq} was published after a message with CRC ${crcHex(last.prev)}, but sequence ${position.seq - 1} holds one with CRC ${crcHex(held)}: the servers' copies of the stream forked there, and what this primary stored before it is in no copy served`;
}
