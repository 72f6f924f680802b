/**
 * The on-disk format version this build writes for segments. It reads this one and every
 * version from MIN_FORMAT_VERSION on (FORMAT.md, "Versions").
 */
export const FORMAT_VERSION = 2;
/** The oldest format version this build reads. */
export const MIN_FORMAT_VERSION = 1;
/** Bytes of the file header every Walnut file starts with. */
export const FILE_HEADER_SIZE = 64;
/** Bytes before a frame's body: crc u32 + len u32. */
export const FRAME_HEADER_SIZE = 8;
/** The format's limit on a frame body; readers may choose a lower one. */
export const MAX_FRAME_BODY = 1 << 30;
/** Default limit on payload + meta bytes of one record. */
export const DEFAULT_MAX_RECORD_SIZE = 16 * 1024 * 1024;
/** Largest LSN the format can hold (u64). LSNs start at 1. */
export const MAX_LSN = (1n << 64n) - 1n;
/** First byte of every frame body. */
export const BodyKind = {
  RECORD: 1,
  BATCH: 2,
  CORE_ENTRY: 3,
  PADDING: 4,
  ENCRYPTED: 5,
  COMPRESSED: 6,
} as const;
export type BodyKind = (typeof BodyKind)[keyof typeof BodyKind];

export const MAX_U64 = MAX_LSN;
export const MAX_U32 = 0xffffffff;

/**
 * Record flag bits (record body byte 1, batch entry byte 0). TIME is version 2's, and only
 * on a single record's body: a batch carries one time for all its entries (BatchFlag).
 */
export const RecordFlag = { META: 1, TENANT: 2, VSHARD: 4, DATABASE: 8, TIME: 16 } as const;
/** The flags a record or batch entry of any version may have (TIME is not an entry's). */
export const RECORD_FLAGS_MASK = 0x0f;
/** Batch body flag bits (batch body byte 1), version 2 on. */
export const BatchFlag = { TIME: 1 } as const;
/** Bytes of a time field: u32 milliseconds after the file header's `createdAtMs`. */
export const TIME_FIELD_SIZE = 4;
/** The largest time a version 2 frame can hold, in ms after its file's `createdAtMs` (~49.7 days). */
export const MAX_TIME_DELTA = 0xffffffff;

/** Fixed part of a single-record body: kind, flags, type, LSN. */
export const RECORD_BODY_FIXED = 12;
/** Fixed part of a batch body: kind, flags, reserved, count, first LSN. */
export const BATCH_BODY_FIXED = 16;
/** Fixed part of one batch entry: flags, type, payload length. */
export const BATCH_ENTRY_FIXED = 7;
/** Fixed part of a per-core entry body: kind, op, core id, epoch, sequence, timestamp. */
export const CORE_ENTRY_FIXED = 28;
