import { crcHex, type MessageHeader, MessageKind } from '../cluster/message.js';

/** A message sent: kept until the stream holds it, so a resend is the very same bytes. */
export interface Sent {
  readonly firstLsn: bigint;
  readonly lastLsn: bigint;
  /** The sequence the stream gives this message if every earlier one was stored. */
  readonly seq: number;
  readonly body: Buffer;
  readonly id: string;
  /** The id of the message it must follow in the stream (null: the sequence alone). */
  readonly prevId: string | null;
  readonly crc: number;
  sentAt: number;
  acked: boolean;
}

/** The last message known stored: what the stream must still hold at `seq`. */
export interface Stored {
  readonly seq: number;
  readonly firstLsn: bigint;
  readonly lastLsn: bigint;
  readonly crc: number;
}

/**
 * What is wrong with the stream's last message at `seq` (of this epoch), or null when it
 * is one this primary sent there: `stored` (the last one known stored), one of `sent`, or
 * the marker.
 */
export function disagreementAt(
  seq: number,
  header: MessageHeader,
  crc: number | null,
  sent: readonly Sent[],
  stored: Stored | null,
): string | null {
  const at = `the stream's message at sequence ${seq}`;
  // A marker of this epoch as the last message: nothing of it was stored after (the
  // stream did not go back, checked before), so it is the one this primary published.
  if (header.kind === MessageKind.EPOCH) return null;
  const known = sent.find((entry) => entry.seq === seq) ?? stored;
  if (known === null || known.seq !== seq) {
    return `${at} holds LSNs ${header.firstLsn}–${header.lastLsn} of this epoch, which this primary did not send there (the stream's sequence ${stored === null ? 'is unknown' : `${stored.seq} was the last known stored`})`;
  }
  if (known.firstLsn !== header.firstLsn || known.lastLsn !== header.lastLsn || known.crc !== crc) {
    return `${at} holds LSNs ${header.firstLsn}–${header.lastLsn} (CRC ${hex(crc)}), but this primary sent LSNs ${known.firstLsn}–${known.lastLsn} (CRC ${hex(known.crc)}) there: a replica of the stream disagrees with the log`;
  }
  return null;
}

function hex(crc: number | null): string {
  return crc === null ? 'none' : crcHex(crc);
}
