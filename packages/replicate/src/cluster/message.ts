import {
  batchFrameSize,
  type Compression,
  compressBody,
  crc32c,
  encodeBatchFrame,
  encodeFrame,
  FRAME_HEADER_SIZE,
  frameRecords,
  MIN_COMPRESSED_BODY,
  recordFrameSize,
  WalError,
  WalErrorCode,
  type WalRecord,
  type WalRecordInput,
} from '@walnut/codec';

/**
 * One JetStream message of a replicated log (the wire format, README "Wire format"):
 *
 *   0  magic 'WNRP' (u32 LE 0x50524e57)
 *   4  crc32c of bytes [8, end)
 *   8  version u8 (1, or 2)    9  kind u8 (1 records, 2 epoch marker)   10 flags u16
 *  12  epoch u32               16 first LSN u64                         24 last LSN u64
 *  32  record count u32        36 prev u32: the CRC at offset 4 of the message it was
 *                                 published after (the stream's last then), 0 if unknown
 *  40  records: one codec batch frame (FORMAT.md) holding them at their LSNs; none in a marker
 *
 * A marker's first LSN is the LSN the new primary appends next and its last LSN the one
 * before (the log's position when the epoch began); its count is 0. Flag 1 on a marker
 * (RESEED) says the stream went back and the primary publishes its log again from there:
 * a replica already holding those LSNs checks them instead of refusing the marker. Other
 * flags are 0 (readers of version 1 before the flag ignore the field).
 *
 * `prev` chains each message to the one the stream held before it when it was published
 * (decision 0918): a reader that holds the message at the sequence before finds out
 * whether the stream kept this message's predecessor or a copy forked under it. Writers
 * before the field wrote 0 there, which no reader checks.
 *
 * Version 2 is a records message whose batch frame's body is compressed (the codec's
 * compressed body, FORMAT.md): readers before it refuse it by name, as an unsupported
 * version, instead of calling the compressed body corrupt (decision 0912). Every other
 * message stays version 1, so a stream of a log that does not compress reads as before.
 */
export const MESSAGE_MAGIC = 0x50524e57;
export const MESSAGE_VERSION = 1;
/** The version of a records message whose body is compressed. */
export const COMPRESSED_MESSAGE_VERSION = 2;
export const MESSAGE_HEADER_SIZE = 40;

export const MessageKind = { RECORDS: 1, EPOCH: 2 } as const;
/** On an epoch marker: the stream is re-seeded from the primary's log after it went back. */
export const RESEED_FLAG = 1;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

export interface MessageHeader {
  readonly kind: MessageKind;
  readonly epoch: number;
  readonly firstLsn: bigint;
  readonly lastLsn: bigint;
  readonly count: number;
  /** RESEED_FLAG on a re-seeding marker, else 0. */
  readonly flags: number;
  /** `messageCrc` of the message this one was published after; 0 when its writer did not know it. */
  readonly prev: number;
}

export interface DecodedMessage extends MessageHeader {
  /**
   * The records, empty for a marker: views into the message bytes, or into the body
   * decompressed from them for a compressed message.
   */
  readonly records: WalRecord[];
}

/** Bytes an uncompressed message holding `records` takes (exact; a compressed one is less). */
export function messageSize(records: readonly WalRecordInput[]): number {
  return MESSAGE_HEADER_SIZE + batchFrameSize(records);
}

/**
 * An upper bound of what one more record adds to a message: a batch entry never takes
 * more than the record's own frame would.
 */
export function recordCost(record: WalRecordInput): number {
  return recordFrameSize(record);
}

/** A message's fixed cost beside its records' (`recordCost`) — header and batch frame head. */
export const MESSAGE_OVERHEAD = MESSAGE_HEADER_SIZE + FRAME_HEADER_SIZE + 16;

/**
 * The message holding `records` at their LSNs from `firstLsn`. With `compression`, its
 * batch body is compressed as the log's writer compresses a frame (kept only when it
 * shrinks), and the message is version 2; never larger than `messageSize(records)`.
 */
export function encodeRecordsMessage(
  epoch: number,
  firstLsn: bigint,
  records: readonly WalRecordInput[],
  compression?: Compression,
  prev = 0,
): Buffer {
  const size = messageSize(records);
  let out = Buffer.allocUnsafe(size);
  encodeBatchFrame(out, MESSAGE_HEADER_SIZE, firstLsn, records);
  let version = MESSAGE_VERSION;
  const plain = out.subarray(MESSAGE_HEADER_SIZE + FRAME_HEADER_SIZE);
  const packed =
    compression !== undefined && plain.length >= MIN_COMPRESSED_BODY
      ? compressBody(plain, compression)
      : null;
  if (packed !== null) {
    out = Buffer.allocUnsafe(MESSAGE_HEADER_SIZE + FRAME_HEADER_SIZE + packed.length);
    encodeFrame(out, MESSAGE_HEADER_SIZE, packed);
    version = COMPRESSED_MESSAGE_VERSION;
  }
  writeHeader(
    out,
    {
      kind: MessageKind.RECORDS,
      epoch,
      firstLsn,
      lastLsn: firstLsn + BigInt(records.length - 1),
      count: records.length,
      flags: 0,
      prev,
    },
    version,
  );
  return out;
}

/**
 * The marker a new primary publishes: its epoch begins after `lastLsn`. `reseed`: the
 * stream went back to `lastLsn`, and the records after it are published again. `prev`: the
 * CRC of the message it is published after (0: not known).
 */
export function encodeEpochMessage(
  epoch: number,
  lastLsn: bigint,
  reseed = false,
  prev = 0,
): Buffer {
  const out = Buffer.allocUnsafe(MESSAGE_HEADER_SIZE);
  writeHeader(out, {
    kind: MessageKind.EPOCH,
    epoch,
    firstLsn: lastLsn + 1n,
    lastLsn,
    count: 0,
    flags: reseed ? RESEED_FLAG : 0,
    prev,
  });
  return out;
}

function writeHeader(out: Buffer, header: MessageHeader, version = MESSAGE_VERSION): void {
  out.writeUInt32LE(MESSAGE_MAGIC, 0);
  out[8] = version;
  out[9] = header.kind;
  out.writeUInt16LE(header.flags, 10);
  out.writeUInt32LE(header.epoch, 12);
  out.writeBigUInt64LE(header.firstLsn, 16);
  out.writeBigUInt64LE(header.lastLsn, 24);
  out.writeUInt32LE(header.count, 32);
  out.writeUInt32LE(header.prev, 36);
  out.writeUInt32LE(crc32c(out.subarray(8)), 4);
}

/** The CRC32C a message carries (over everything after it): with its range, it names the content. */
export function messageCrc(bytes: Uint8Array): number {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).readUInt32LE(4);
}

/** A CRC as messages, ids and reports print it: 8 hex digits. */
export function crcHex(crc: number): string {
  return (crc >>> 0).toString(16).padStart(8, '0');
}

/**
 * The `prev` of a message published right after `position` (the stream's last message as
 * read): that message's CRC, or 0 when the message at the last sequence is gone or unknown.
 */
export function prevOf(position: {
  readonly crc: number | null;
  readonly lastSeq?: number | undefined;
}): number {
  return position.lastSeq === undefined && position.crc !== null ? position.crc : 0;
}

/**
 * The id a message is published under: stream, epoch, LSN range and CRC, so one id names
 * exactly one content. A message regrouped after a failure (more or fewer records) gets
 * another id, and JetStream cannot take it for a resend of the first (issue #38).
 */
export function messageId(
  stream: string,
  epoch: number,
  firstLsn: bigint,
  lastLsn: bigint,
  body: Uint8Array,
): string {
  const crc = crcHex(messageCrc(body));
  return `${stream}:${epoch}:${firstLsn}-${lastLsn}:${crc}`;
}

function corrupt(what: string, where: string): never {
  throw new WalError(
    WalErrorCode.CORRUPT,
    `replication message ${where} is not a Walnut log message (${what}); the stream holds something this version did not write — check that only Walnut writes to it`,
    { details: { message: where } },
  );
}

/** Checks and decodes the header alone (the CRC covers the whole message). */
export function decodeHeader(bytes: Uint8Array, where: string): MessageHeader {
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length < MESSAGE_HEADER_SIZE) corrupt(`${buf.length} bytes`, where);
  if (buf.readUInt32LE(0) !== MESSAGE_MAGIC) corrupt('wrong magic', where);
  if (buf.readUInt32LE(4) !== crc32c(buf.subarray(8))) corrupt('checksum mismatch', where);
  if (buf[8] !== MESSAGE_VERSION && buf[8] !== COMPRESSED_MESSAGE_VERSION) {
    throw new WalError(
      WalErrorCode.UNSUPPORTED_FORMAT,
      `replication message ${where} has format version ${buf[8]}; this build reads versions ${MESSAGE_VERSION} and ${COMPRESSED_MESSAGE_VERSION} — upgrade @walnut/replicate`,
    );
  }
  const kind = buf[9];
  if (kind !== MessageKind.RECORDS && kind !== MessageKind.EPOCH) corrupt(`kind ${kind}`, where);
  if (buf[8] === COMPRESSED_MESSAGE_VERSION && kind !== MessageKind.RECORDS)
    corrupt('a version 2 message that holds no records', where);
  const header: MessageHeader = {
    kind,
    epoch: buf.readUInt32LE(12),
    firstLsn: buf.readBigUInt64LE(16),
    lastLsn: buf.readBigUInt64LE(24),
    count: buf.readUInt32LE(32),
    flags: buf.readUInt16LE(10),
    prev: buf.readUInt32LE(36),
  };
  const span = header.lastLsn - header.firstLsn + 1n;
  if (
    kind === MessageKind.EPOCH
      ? header.count !== 0 || span !== 0n
      : span !== BigInt(header.count) || header.count === 0
  ) {
    corrupt('LSN range and count disagree', where);
  }
  return header;
}

/** Checks and decodes a whole message, compressed or not (DecodedMessage.records). */
export function decodeMessage(bytes: Uint8Array, where: string): DecodedMessage {
  const header = decodeHeader(bytes, where);
  if (header.kind === MessageKind.EPOCH) return { ...header, records: [] };
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const bodyLength = buf.readUInt32LE(MESSAGE_HEADER_SIZE + 4);
  const bodyStart = MESSAGE_HEADER_SIZE + FRAME_HEADER_SIZE;
  if (bodyStart + bodyLength !== buf.length)
    corrupt('frame length disagrees with the message', where);
  const records: WalRecord[] = [];
  frameRecords(buf, bodyStart, buf.length, records);
  if (records.length !== header.count || records[0]?.lsn !== header.firstLsn) {
    corrupt('records disagree with the header', where);
  }
  return { ...header, records };
}
