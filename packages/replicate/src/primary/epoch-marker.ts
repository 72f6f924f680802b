import { type KeyRing, WalError, WalErrorCode } from '@walnut/codec';
import type { Wal } from '@walnut/wal';
import { pause } from '../cluster/backoff.js';
import {
  type ClusterLink,
  describe,
  isRefusedExpectation,
  lastLsnInStream,
} from '../cluster/link.js';
import { encodeEpochMessage, messageCrc, prevOf } from '../cluster/message.js';
import { catchUp, verifyAgainstStream } from '../local/replica-log.js';

/** Where a new epoch's shipping starts. */
export interface EpochStart {
  /** The last LSN the stream holds. */
  readonly inStream: bigint;
  /** The stream sequence of the epoch marker. */
  readonly streamSeq: number;
  /** The marker's message id: what the next publish expects as the stream's last. */
  readonly lastId: string;
  /**
   * The marker's CRC: what the next message names as the one it follows (`prev`); null
   * when the stream kept an earlier send of it (a duplicate), whose bytes may differ.
   */
  readonly lastCrc: number | null;
}

/**
 * With the lease taken at `epoch`: brings the local log level with the stream and
 * publishes the epoch marker right after the stream's last message (docs/decisions/0902).
 */
export async function publishEpochMarker(
  link: ClusterLink,
  wal: Wal,
  epoch: number,
  keyRing: KeyRing | undefined,
): Promise<EpochStart> {
  for (let attempt = 0; ; attempt++) {
    // Whatever the stream holds beyond the local log is applied first (the stream is the truth).
    await catchUp(link, wal, keyRing);
    const position = await link.lastPosition();
    if (position.header !== null && position.header.epoch > epoch) {
      throw new WalError(
        WalErrorCode.FENCED,
        `the stream already holds epoch ${position.header.epoch}, newer than this primary's ${epoch}: another node took over meanwhile`,
      );
    }
    const inStream = lastLsnInStream(position);
    await verifyAgainstStream(link, wal, inStream < wal.lastLsn ? inStream : wal.lastLsn, keyRing);
    const id = `${link.names.stream}:${epoch}:marker:${inStream}`;
    try {
      const marker = encodeEpochMessage(epoch, inStream, false, prevOf(position));
      const ack = await link.publishAfter(marker, id, position);
      const lastCrc = ack.duplicate ? null : messageCrc(marker);
      return { inStream, streamSeq: ack.seq, lastId: id, lastCrc };
    } catch (error) {
      // An older primary still publishing stored one more message: catch up and retry.
      if (!isRefusedExpectation(error) || attempt >= 20) {
        throw new WalError(
          WalErrorCode.IO,
          `could not publish the epoch marker of epoch ${epoch} (${describe(error)}); retry opening`,
          { cause: error },
        );
      }
      await pause(50 * (attempt + 1));
    }
  }
}
