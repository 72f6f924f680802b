import * as zlib from 'node:zlib';
import { decompress as decompressInJs } from 'fzstd';
import { badArgument, WalError, WalErrorCode } from '../errors/errors.js';
import { getU32, putU32 } from '../values/bytes.js';
import { malformed } from '../values/validate.js';
import { BodyKind, MAX_FRAME_BODY } from './constants.js';

/** Codec ids of a compressed body's byte 1 (FORMAT.md "Compressed body"). */
export const CompressionCodec = { ZSTD: 1 } as const;
/** Fixed part of a compressed body: kind, codec, reserved, plain length. */
export const COMPRESSED_BODY_FIXED = 8;
/** The names `compressionOption` accepts, and the levels of each. */
export const COMPRESSION_LEVELS = { zstd: { min: 1, max: 19, default: 1 } } as const;
export type CompressionName = keyof typeof COMPRESSION_LEVELS;

/**
 * Bodies shorter than this are written as they are without trying: the compressed body's 8
 * bytes and zstd's frame header (about 9) leave a short body nothing to win, and skipping
 * it keeps small single records on the writer's fast path.
 */
export const MIN_COMPRESSED_BODY = 128;

/** How a writer compresses frame bodies. */
export interface Compression {
  readonly codec: CompressionName;
  readonly level: number;
}

interface NativeZstd {
  zstdCompressSync(
    buf: Uint8Array,
    options: { params: Record<number, number>; pledgedSrcSize: number },
  ): Buffer;
  zstdDecompressSync(buf: Uint8Array, options: { maxOutputLength: number }): Buffer;
  constants: { ZSTD_c_compressionLevel: number };
}
/** node:zlib's zstd (Node 22.15 on, and runtimes that follow it); null where there is none. */
const native: NativeZstd | null =
  typeof (zlib as unknown as Partial<NativeZstd>).zstdCompressSync === 'function'
    ? (zlib as unknown as NativeZstd)
    : null;

/**
 * What decodes and what encodes zstd here: node:zlib where it has zstd; otherwise frames are
 * read by `fzstd` (pure JavaScript) and cannot be written (decision 0117).
 */
export function zstdImplementation(): {
  decoder: 'node:zlib' | 'fzstd';
  encoder: 'node:zlib' | null;
} {
  return native === null
    ? { decoder: 'fzstd', encoder: null }
    : { decoder: 'node:zlib', encoder: 'node:zlib' };
}

/**
 * Checks a compression choice: a codec name of COMPRESSION_LEVELS and an integer level in its
 * range (its default when absent). WAL_BAD_ARGUMENT listing what is accepted;
 * WAL_BACKEND_UNAVAILABLE when this runtime can read the codec's frames but not write them.
 */
export function compressionOption(name: unknown, level?: unknown): Compression {
  const names = Object.keys(COMPRESSION_LEVELS);
  if (typeof name !== 'string' || !Object.hasOwn(COMPRESSION_LEVELS, name))
    badArgument('compression', `one of ${names.map((n) => `'${n}'`).join(', ')}`, name);
  const range = COMPRESSION_LEVELS[name as CompressionName];
  const chosen = level ?? range.default;
  if (
    typeof chosen !== 'number' ||
    !Number.isInteger(chosen) ||
    chosen < range.min ||
    chosen > range.max
  )
    badArgument(`${name} level`, `an integer in ${range.min}..${range.max}`, chosen);
  if (native === null)
    throw new WalError(
      WalErrorCode.BACKEND_UNAVAILABLE,
      `this runtime's node:zlib has no zstd (Node ${process.versions.node}; it came in Node 22.15), so it cannot write compressed frames; it reads them all the same. Write from Node 22.15 or later, or leave compression off`,
    );
  return { codec: name as CompressionName, level: chosen };
}

/** What the log layers' `compression` option takes: a codec name, or a codec and a level. */
export type CompressionChoice =
  | CompressionName
  | { readonly codec: CompressionName; readonly level?: number | undefined };

/**
 * The `compression` option of the log layers: a codec name (its default level) or
 * `{ codec, level }`, checked by `compressionOption` (whose messages name the codec and
 * level); `name` is the option's, for a value of neither shape.
 */
export function compressionSetting(value: unknown, name: string): Compression {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { codec, level, ...rest } = value as { codec?: unknown; level?: unknown };
    const extra = Object.keys(rest);
    if (extra.length > 0)
      badArgument(name, "'zstd' or { codec: 'zstd', level?: 1..19 } (nothing else)", value);
    return compressionOption(codec, level);
  }
  return compressionOption(value);
}

/**
 * The compressed body holding the plaintext record or batch body `plain` (kind byte first),
 * or null when compressing does not make it smaller: such a body is written as it is.
 */
export function compressBody(plain: Uint8Array, compression: Compression): Buffer | null {
  if (native === null) compressionOption(compression.codec, compression.level);
  // The size up front lets zstd size its window and tables to the body: without it each call
  // set up a context for inputs of any size, ~6x the time of compressing a 32 KiB batch.
  const packed = native!.zstdCompressSync(plain, {
    params: { [native!.constants.ZSTD_c_compressionLevel]: compression.level },
    pledgedSrcSize: plain.length,
  });
  if (COMPRESSED_BODY_FIXED + packed.length >= plain.length) return null;
  const body = Buffer.allocUnsafe(COMPRESSED_BODY_FIXED + packed.length);
  body[0] = BodyKind.COMPRESSED;
  body[1] = CompressionCodec.ZSTD;
  body[2] = 0;
  body[3] = 0;
  putU32(body, 4, plain.length);
  body.set(packed, COMPRESSED_BODY_FIXED);
  return body;
}

/**
 * The plaintext body a compressed body `buf[start..end)` holds, in a buffer of its own.
 * WAL_UNSUPPORTED_FORMAT, naming it, for a codec this build does not know (never corrupt: a
 * newer writer's frame is not damage); WAL_CORRUPT when the body is malformed or its bytes do
 * not decompress to exactly the length it states.
 */
export function decompressBody(
  buf: Uint8Array,
  start: number,
  end: number,
  maxBody = MAX_FRAME_BODY,
): Buffer {
  if (end - start < COMPRESSED_BODY_FIXED) malformed('compressed body shorter than 8 bytes');
  const codec = buf[start + 1];
  if (codec !== CompressionCodec.ZSTD)
    throw new WalError(
      WalErrorCode.UNSUPPORTED_FORMAT,
      `a frame compressed with codec ${codec}, which this build does not know (it reads ${Object.keys(COMPRESSION_LEVELS).join(', ')}); upgrade Walnut to read it`,
      { details: { codec } },
    );
  if (buf[start + 2] !== 0 || buf[start + 3] !== 0)
    malformed('compressed body reserved bytes are not zero');
  const length = getU32(buf, start + 4);
  if (length === 0 || length > maxBody)
    malformed(`compressed body states ${length} plain bytes (allowed 1..${maxBody})`);
  const packed = buf.subarray(start + COMPRESSED_BODY_FIXED, end);
  if (packed.length === 0) malformed('compressed body holds no zstd bytes');
  let plain: Uint8Array;
  try {
    plain =
      native === null
        ? decompressInJs(packed, new Uint8Array(length))
        : native.zstdDecompressSync(packed, { maxOutputLength: length });
  } catch (cause) {
    return malformed(`zstd bytes do not decompress (${(cause as Error).message})`);
  }
  if (plain.length !== length)
    malformed(`zstd bytes decompress to ${plain.length} bytes, the body states ${length}`);
  return Buffer.isBuffer(plain) ? plain : Buffer.from(plain.buffer, plain.byteOffset, plain.length);
}
