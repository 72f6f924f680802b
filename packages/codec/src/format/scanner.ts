import { codecAddon, crc32cRange } from '../crc/crc32c.js';
import { badArgument, isWalError, WalError, WalErrorCode } from '../errors/errors.js';
import { addonNumber } from '../native/addon-number.js';
import { getU32 } from '../values/bytes.js';
import { BodyKind, FRAME_HEADER_SIZE, MAX_FRAME_BODY } from './constants.js';
import { type CoreEntry, decodeCoreEntryAt } from './core-entry.js';
import { FrameCipher } from './crypto.js';
import { asBuffer, checkIndex, checkMaxBody, classifyAt, type DamageKind } from './damage.js';
import { decompressedBody } from './frame-body.js';
import { verifyFramesRange } from './frame-run.js';
import type { LsnSequence } from './lsn-sequence.js';
import { bodyTime, RecordCursor, type RecordFile } from './record-cursor.js';
import type { WalRecord } from './records.js';

/** Why a scanner stopped. 'partial' only happens in chunked mode. */
export type StopKind = DamageKind | 'partial';

export interface ScanStop {
  kind: StopKind;
  /** File offset (baseOffset + buffer index) of the first byte that is not a valid frame. */
  offset: number;
  reason: string;
  /** 'partial' only: bytes needed from `offset` to complete the cut frame (8 if even its header is cut). */
  needed?: number;
}

export interface ScannedFrame {
  /** File offset of the frame's first byte. */
  offset: number;
  /**
   * The frame body (kind byte first): a view into the buffer, or the plaintext of an
   * encrypted frame (with `passEncrypted`, its encrypted body as it is in the buffer).
   */
  body: Buffer;
}

/**
 * Bytes whose frames are verified in one run ahead of decoding: large enough to make the
 * native call's fixed cost vanish, small enough not to verify much past an early stop.
 */
const VERIFY_AHEAD_BYTES = 256 * 1024;
const runOut = new Float64Array(2);
/** Only the addon makes verifying ahead pay: in JavaScript the CRC work is the same, frame by frame. */
const VERIFY_AHEAD = codecAddon !== null;
const passRun = codecAddon === null ? null : codecAddon.passLsnRun;
/** passLsnRun's LSN halves in and out, where it stopped, and its last frame with records. */
const lsnRunState = new Float64Array(4);

export interface FrameScannerOptions {
  /** Buffer index of the first frame (default 0). */
  start?: number;
  /** Buffer index where the data ends (default the buffer length). */
  end?: number;
  /** File offset of buffer index 0, so offsets in results are file offsets (default 0). */
  baseOffset?: number;
  /** Largest frame body accepted (default and maximum 1 GiB); lower it to maxRecordSize + overhead. */
  maxFrameBody?: number;
  /** Decrypts encrypted frames; without it an encrypted frame is WAL_KEY_MISSING. */
  cipher?: FrameCipher;
  /**
   * Without a cipher, `nextFrame()` and `advanceFrame()` return an encrypted frame as it is
   * (kind 0x05: CRC checked, not decrypted) instead of throwing WAL_KEY_MISSING: a tool
   * holding no key can still check and count frames. Reading records still needs the
   * cipher. Not with `cipher`.
   */
  passEncrypted?: boolean;
  /**
   * The buffer is one chunk of a longer file: a frame cut by the end of the buffer stops
   * the scanner with 'partial' instead of being judged torn.
   */
  chunked?: boolean;
  /**
   * The header of the file the buffer comes from (a FileHeader will do): a version 1 file's
   * records may not carry a time, and version 2 times count from its `createdAtMs`. Without
   * it records are read with version 2's layout and their `time` is undefined.
   */
  file?: RecordFile;
}

/**
 * Reads frames from a buffer until the first position that is not a valid frame, and says
 * why it stopped (`stop`): eof, torn or corrupt (see FORMAT.md). Records are views into
 * the buffer.
 */
export class FrameScanner {
  private readonly buf: Buffer;
  private readonly end: number;
  private readonly base: number;
  private readonly maxBody: number;
  private readonly cipher: FrameCipher | undefined;
  private readonly passEncrypted: boolean;
  private readonly chunked: boolean;
  private pos: number;
  /** Body of the frame just verified: [bodyStart, pos). */
  private bodyStart = 0;
  private stopped: ScanStop | null = null;
  /** Where the last frame holding records that the latest `passLsnRun` passed starts; -1: none. */
  private runLastRecords = -1;
  /** Frames from pos on whose CRC a run already verified. */
  private verifiedAhead = 0;
  /** The current record of `advance()` / `nextRecord()`, and the rest of its batch. */
  private readonly cursor = new RecordCursor();
  /** The frame `advanceFrame()` moved to: the buffer holding its body, and where. */
  private frameBuf: Buffer = Buffer.alloc(0);
  private frameStart = 0;
  private frameBodyFrom = 0;
  private frameBodyTo = 0;

  constructor(buf: Uint8Array, options: FrameScannerOptions = {}) {
    this.buf = asBuffer(buf);
    if (typeof options !== 'object' || options === null)
      badArgument('options', 'an options object', options);
    const length = this.buf.length;
    const end = options.end ?? length;
    checkIndex('options.end', end, length);
    const start = options.start ?? 0;
    checkIndex('options.start', start, end);
    const base = options.baseOffset ?? 0;
    if (!Number.isSafeInteger(base) || base < 0)
      badArgument('options.baseOffset', 'a non-negative safe integer', base);
    const maxBody = options.maxFrameBody ?? MAX_FRAME_BODY;
    checkMaxBody(maxBody);
    if (options.cipher !== undefined && !(options.cipher instanceof FrameCipher))
      badArgument('options.cipher', 'a FrameCipher', options.cipher);
    if (options.passEncrypted !== undefined && typeof options.passEncrypted !== 'boolean')
      badArgument('options.passEncrypted', 'a boolean', options.passEncrypted);
    if (options.passEncrypted === true && options.cipher !== undefined)
      badArgument(
        'options.passEncrypted',
        'false or absent when a cipher is given (the cipher decrypts every frame)',
        options.passEncrypted,
      );
    this.end = end;
    this.pos = start;
    this.base = base;
    this.maxBody = maxBody;
    this.cipher = options.cipher;
    this.passEncrypted = options.passEncrypted === true;
    this.chunked = options.chunked === true;
    if (options.file !== undefined) {
      const file = options.file;
      if (typeof file !== 'object' || file === null || typeof file.version !== 'number')
        badArgument('options.file', 'a file header', file);
      this.cursor.useFile(file);
    }
  }

  /** File offset of the next unread frame: the end of the last good frame. */
  get offset(): number {
    return this.base + this.pos;
  }

  /** Where and why the scanner stopped; null while it has not. */
  get stop(): ScanStop | null {
    return this.stopped;
  }

  /** The next frame, or null when the scanner stopped (see `stop`). */
  nextFrame(): ScannedFrame | null {
    this.cursor.closeBatch();
    while (this.verifyNext()) {
      const frameStart = this.bodyStart - FRAME_HEADER_SIZE;
      const body = this.frameBody(frameStart);
      if (body === null) return null;
      return { offset: this.base + frameStart, body };
    }
    return null;
  }

  /**
   * Moves to the next frame like `nextFrame()`, with the same stops, but builds nothing for
   * a plaintext frame: read it through `frameOffset`, `frameBuffer`, `frameBodyStart` and
   * `frameBodyEnd` (an encrypted frame's body is its plaintext, in a buffer of its own;
   * with `passEncrypted`, its encrypted body in the scanned buffer).
   * They describe the frame until the scanner moves again. Returns false when it stopped.
   */
  advanceFrame(): boolean {
    this.cursor.closeBatch();
    if (!this.verifyNext()) return false;
    const frameStart = this.bodyStart - FRAME_HEADER_SIZE;
    const kind = this.buf[this.bodyStart]!;
    this.frameStart = frameStart;
    if (
      (kind >= BodyKind.RECORD && kind <= BodyKind.PADDING) ||
      (kind === BodyKind.ENCRYPTED && this.passEncrypted)
    ) {
      this.frameBuf = this.buf;
      this.frameBodyFrom = this.bodyStart;
      this.frameBodyTo = this.pos;
      return true;
    }
    const body = this.plainBody(frameStart);
    if (body === null) return false;
    this.frameBuf = body;
    this.frameBodyFrom = 0;
    this.frameBodyTo = body.length;
    return true;
  }

  /**
   * Recovery's walk: passes over consecutive plaintext frames whose records continue
   * `sequence` (a record, or a batch of at least one; padding holds none), advancing it, and
   * decodes nothing. Stops before the first frame that is anything else (damage, the end, a
   * wrong or missing LSN, an encrypted or unknown body), which `advanceFrame()` then reads as
   * usual. Returns the number of records passed. Only with the addon, whose one pass checks
   * each frame's CRC and LSN: without it the CRC is computed frame by frame in JavaScript
   * anyway, and `advanceFrame()` costs no more.
   */
  passLsnRun(sequence: LsnSequence): number {
    this.runLastRecords = -1;
    // Past 2^64 - 1 (only a damaged log gets there) the native u64 would wrap.
    if (passRun === null || this.stopped !== null || sequence.high > 0xffffffff) return 0;
    this.cursor.closeBatch();
    lsnRunState[0] = sequence.low;
    lsnRunState[1] = sequence.high;
    const records = passRun(this.buf, this.pos, this.end, this.maxBody, lsnRunState);
    const stoppedAt = addonNumber(lsnRunState[2]!);
    this.runLastRecords = addonNumber(lsnRunState[3]!);
    if (stoppedAt !== this.pos) {
      this.pos = stoppedAt;
      this.verifiedAhead = 0;
      sequence.low = lsnRunState[0]!;
      sequence.high = lsnRunState[1]!;
    }
    return records;
  }

  /**
   * The time of the last record the latest `passLsnRun` passed, counted from `createdAtMs`
   * (see `bodyTime`); undefined when that run passed no frame with a time. The addon's walk
   * said where that frame starts: call it before the scanned buffer is reused.
   */
  lastRunTime(createdAtMs: number): number | undefined {
    const last = this.runLastRecords;
    if (last < 0) return undefined;
    const body = last + FRAME_HEADER_SIZE;
    return bodyTime(this.buf, body, body + getU32(this.buf, last + 4), createdAtMs);
  }

  /**
   * The frames holding records (plain, not compressed) that the runs passed since file offset
   * `from`, a frame start at or after which they began: `take(offset, lsn)` for each one
   * whose offset `wants`. Reads only frame headers and first LSNs, for an index of where
   * frames start (segmented's frame index, decision 0344).
   */
  runFrames(
    from: number,
    wants: (offset: number) => boolean,
    take: (offset: number, lsn: bigint) => void,
  ): void {
    const buf = this.buf;
    for (let p = from - this.base; p < this.pos; p += FRAME_HEADER_SIZE + getU32(buf, p + 4)) {
      const body = p + FRAME_HEADER_SIZE;
      const kind = buf[body];
      if ((kind === BodyKind.RECORD || kind === BodyKind.BATCH) && wants(this.base + p)) {
        take(this.base + p, buf.readBigUInt64LE(body + (kind === BodyKind.RECORD ? 4 : 8)));
      }
    }
  }

  /** File offset of the frame `advanceFrame()` moved to. */
  get frameOffset(): number {
    return this.base + this.frameStart;
  }

  /** The buffer holding that frame's body (kind byte first) from `frameBodyStart` to `frameBodyEnd`. */
  get frameBuffer(): Buffer {
    return this.frameBuf;
  }

  get frameBodyStart(): number {
    return this.frameBodyFrom;
  }

  get frameBodyEnd(): number {
    return this.frameBodyTo;
  }

  /**
   * The next record (a batch yields its records in LSN order; padding is skipped), or null
   * when the scanner stopped. A per-core entry in a record log stops it as corrupt.
   */
  nextRecord(): WalRecord | null {
    return this.advance() ? this.cursor.toRecord() : null;
  }

  /**
   * Moves to the next record like `nextRecord()`, with the same stops, but builds nothing:
   * read the record through `lsn`, `lsnNumber`, `type`, `recordBuffer`, `payloadStart`,
   * `payloadEnd` (no allocation), or `payload` and `record()` (a view, an object). They
   * describe the current record until the next call of `advance`, `nextRecord`,
   * `nextFrame` or `nextCoreEntry`. Returns false when the scanner stopped (see `stop`).
   */
  advance(): boolean {
    const cursor = this.cursor;
    if (cursor.inBatch) {
      cursor.nextEntry();
      return true;
    }
    // nextCoreEntry() opens a body the same way. Written out in both: a shared method that
    // left the opened body in fields cost `advance()` ~75 more instructions per record.
    while (this.verifyNext()) {
      const frameStart = this.bodyStart - FRAME_HEADER_SIZE;
      let buf = this.buf;
      let start = this.bodyStart;
      let end = this.pos;
      if (buf[start]! >= BodyKind.ENCRYPTED) {
        const plain = this.plainBody(frameStart);
        if (plain === null) return false;
        buf = plain;
        start = 0;
        end = plain.length;
      }
      const kind = buf[start];
      if (kind === BodyKind.PADDING) continue;
      try {
        if (kind === BodyKind.RECORD) {
          cursor.readRecord(buf, start, end);
          return true;
        }
        if (kind === BodyKind.BATCH) {
          cursor.openBatch(buf, start, end);
          return true;
        }
      } catch (err) {
        if (!isWalError(err, WalErrorCode.CORRUPT)) throw err;
        this.malformed(frameStart, err.message);
        return false;
      }
      this.malformed(frameStart, `a frame of kind ${kind} where a record was expected`);
      return false;
    }
    return false;
  }

  /** LSN of the current record (see `advance`). */
  get lsn(): bigint {
    return this.cursor.lsn();
  }

  /**
   * LSN of the current record as a number, exact: LSNs below 2^53 (the first 9·10^15
   * records of a log). WAL_BAD_STATE for a larger LSN, which only `lsn` can hold.
   */
  get lsnNumber(): number {
    const cursor = this.cursor;
    if (cursor.lsnBig !== null)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `LSN ${cursor.lsnBig} is 2^53 or more and has no exact number; read \`lsn\` (a bigint)`,
      );
    return cursor.lsnNumber;
  }

  /** Append time of the current record, ms since the epoch, or undefined (see WalRecord.time). */
  get time(): number | undefined {
    return this.cursor.time;
  }

  /** Record type of the current record (see `advance`). */
  get type(): number {
    return this.cursor.type;
  }

  /** The buffer holding the current record: the scanned buffer, or a decrypted frame body. */
  get recordBuffer(): Buffer {
    return this.cursor.buf;
  }

  /** Index in `recordBuffer` of the current record's first payload byte. */
  get payloadStart(): number {
    return this.cursor.payloadStart;
  }

  /** Index in `recordBuffer` just past the current record's payload. */
  get payloadEnd(): number {
    return this.cursor.payloadEnd;
  }

  /** The current record's payload: a view into `recordBuffer` (allocates the view). */
  get payload(): Buffer {
    const cursor = this.cursor;
    return cursor.buf.subarray(cursor.payloadStart, cursor.payloadEnd);
  }

  /** The current record as `nextRecord()` would have returned it (see `advance`). */
  record(): WalRecord {
    return this.cursor.toRecord();
  }

  /** The next per-core entry (padding skipped), or null when the scanner stopped. */
  nextCoreEntry(): CoreEntry | null {
    this.cursor.closeBatch();
    while (this.verifyNext()) {
      const frameStart = this.bodyStart - FRAME_HEADER_SIZE;
      let buf = this.buf;
      let start = this.bodyStart;
      let end = this.pos;
      if (buf[start]! >= BodyKind.ENCRYPTED) {
        const plain = this.plainBody(frameStart);
        if (plain === null) return null;
        buf = plain;
        start = 0;
        end = plain.length;
      }
      const kind = buf[start];
      if (kind === BodyKind.PADDING) continue;
      if (kind !== BodyKind.CORE_ENTRY)
        return this.malformed(
          frameStart,
          `a frame of kind ${kind} where a core entry was expected`,
        );
      try {
        return decodeCoreEntryAt(buf, start, end);
      } catch (err) {
        if (!isWalError(err, WalErrorCode.CORRUPT)) throw err;
        return this.malformed(frameStart, err.message);
      }
    }
    return null;
  }

  /** Iterates `nextRecord()` until the scanner stops. */
  *records(): IterableIterator<WalRecord> {
    for (let rec = this.nextRecord(); rec !== null; rec = this.nextRecord()) yield rec;
  }

  /**
   * Verifies the frame at the current position. On success its body is
   * [bodyStart, pos) and the position is past it; otherwise the scanner stops.
   */
  private verifyNext(): boolean {
    if (this.stopped !== null) return false;
    const buf = this.buf;
    const p = this.pos;
    if (VERIFY_AHEAD && this.verifiedAhead === 0)
      this.verifiedAhead = verifyFramesRange(
        buf,
        p,
        Math.min(this.end, p + VERIFY_AHEAD_BYTES),
        this.maxBody,
        runOut,
      );
    if (this.verifiedAhead > 0) {
      this.verifiedAhead--;
      this.bodyStart = p + FRAME_HEADER_SIZE;
      this.pos = this.bodyStart + getU32(buf, p + 4);
      return true;
    }
    const room = this.end - p - FRAME_HEADER_SIZE;
    if (room >= 0) {
      const len = getU32(buf, p + 4);
      if (len >= 1 && len <= this.maxBody) {
        if (len <= room) {
          if (crc32cRange(buf, p + 4, p + FRAME_HEADER_SIZE + len, 0) === getU32(buf, p)) {
            this.bodyStart = p + FRAME_HEADER_SIZE;
            this.pos = p + FRAME_HEADER_SIZE + len;
            return true;
          }
        } else if (this.chunked) {
          return this.halt(
            'partial',
            p,
            `a ${len}-byte frame body is cut by the end of the buffer`,
            FRAME_HEADER_SIZE + len,
          );
        }
      }
    } else if (this.chunked && p < this.end) {
      return this.halt(
        'partial',
        p,
        'a frame header is cut by the end of the buffer',
        FRAME_HEADER_SIZE,
      );
    }
    return this.judge(p);
  }

  private judge(p: number): false {
    const end = this.end;
    if (p === end) return this.halt('eof', p, 'end of data');
    const kind = classifyAt(this.buf, p, end, this.maxBody);
    if (kind === 'eof') return this.halt('eof', p, 'zero-filled from here to the end');
    const what = this.describeDamage(p);
    if (kind === 'torn') return this.halt('torn', p, `${what}, and no valid frame follows`);
    return this.halt('corrupt', p, `${what}, but valid frames follow`);
  }

  private describeDamage(p: number): string {
    const room = this.end - p - FRAME_HEADER_SIZE;
    if (room < 0) return `only ${room + FRAME_HEADER_SIZE} bytes left, a frame header needs 8`;
    const len = this.buf.readUInt32LE(p + 4);
    if (len === 0) return 'frame length 0';
    if (len > this.maxBody) return `frame length ${len} is over the limit of ${this.maxBody}`;
    if (len > room) return `frame length ${len} runs past the end of the data`;
    return 'frame CRC32C mismatch';
  }

  /** Body of the verified frame for `nextFrame()`: an encrypted one as it is with `passEncrypted`. */
  private frameBody(frameStart: number): Buffer | null {
    if (this.passEncrypted && this.buf[this.bodyStart] === BodyKind.ENCRYPTED)
      return this.buf.subarray(this.bodyStart, this.pos);
    return this.plainBody(frameStart);
  }

  /**
   * Body of the verified frame, decrypted when it is encrypted and decompressed when it is
   * compressed (into a buffer of its own); null if that stopped the scan.
   */
  private plainBody(frameStart: number): Buffer | null {
    const body = this.buf.subarray(this.bodyStart, this.pos);
    const kind = body[0]!;
    if (kind >= BodyKind.RECORD && kind <= BodyKind.PADDING) return body;
    if (kind === BodyKind.COMPRESSED) return this.decompressed(body, frameStart);
    if (kind !== BodyKind.ENCRYPTED) return this.malformed(frameStart, `unknown body kind ${kind}`);
    if (this.cipher === undefined) {
      this.pos = frameStart;
      this.verifiedAhead = 0;
      throw new WalError(
        WalErrorCode.KEY_MISSING,
        `encrypted frame at offset ${this.base + frameStart}; pass the file's FrameCipher in the scanner options (or passEncrypted: true to read its frames undecrypted)`,
        { details: { offset: this.base + frameStart } },
      );
    }
    let plain: Buffer;
    try {
      plain = this.cipher.decryptBody(body, body.length);
    } catch (err) {
      this.pos = frameStart;
      this.verifiedAhead = 0;
      if (isWalError(err)) err.details.offset ??= this.base + frameStart;
      throw err;
    }
    const inner = plain[0];
    if (inner === BodyKind.COMPRESSED) return this.decompressed(plain, frameStart);
    if (inner === undefined || inner < BodyKind.RECORD || inner > BodyKind.PADDING)
      return this.malformed(frameStart, `encrypted body holds kind ${inner}`);
    return plain;
  }

  /** The records body a compressed body holds; a stop when it is malformed, an error when unknown. */
  private decompressed(body: Buffer, frameStart: number): Buffer | null {
    try {
      return decompressedBody(body, 0, body.length);
    } catch (err) {
      if (isWalError(err, WalErrorCode.CORRUPT)) return this.malformed(frameStart, err.message);
      this.pos = frameStart;
      this.verifiedAhead = 0;
      if (isWalError(err)) err.details.offset ??= this.base + frameStart;
      throw err;
    }
  }

  /** A frame whose CRC matched but whose body is invalid: corrupt, never written by Walnut. */
  private malformed(frameStart: number, reason: string): null {
    this.pos = frameStart;
    this.verifiedAhead = 0;
    this.halt('corrupt', frameStart, reason);
    return null;
  }

  private halt(kind: StopKind, p: number, reason: string, needed?: number): false {
    this.pos = p;
    const stop: ScanStop = { kind, offset: this.base + p, reason };
    if (needed !== undefined) stop.needed = needed;
    this.stopped = stop;
    return false;
  }
}
