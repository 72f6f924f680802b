/** The on-disk format version this build writes and the only one it reads. */
export const FORMAT_VERSION = 1;
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
export const BodyKind = { RECORD: 1, BATCH: 2, CORE_ENTRY: 3, PADDING: 4, ENCRYPTED: 5 } as const;
export type BodyKind = (typeof BodyKind)[keyof typeof BodyKind];

export const MAX_U64 = MAX_LSN;
export const MAX_U32 = 0xffffffff;

/** Record flag bits (record body byte 1, batch entry byte 0). */
export const RecordFlag = { META: 1, TENANT: 2, VSHARD: 4, DATABASE: 8 } as const;
export const RECORD_FLAGS_MASK = 0x0f;

/** Fixed part of a single-record body: kind, flags, type, LSN. */
export const RECORD_BODY_FIXED = 12;
/** Fixed part of a batch body: kind, flags, reserved, count, first LSN. */
export const BATCH_BODY_FIXED = 16;
/** Fixed part of one batch entry: flags, type, payload length. */
export const BATCH_ENTRY_FIXED = 7;
/** Fixed part of a per-core entry body: kind, op, core id, epoch, sequence, timestamp. */
export const CORE_ENTRY_FIXED = 28;
