import { BufferView, bufferView } from '../values/buffer-view.js';
import { getU32 } from '../values/bytes.js';
import { malformed } from '../values/validate.js';
import {
  BATCH_BODY_FIXED,
  BATCH_ENTRY_FIXED,
  BatchFlag,
  BodyKind,
  MAX_LSN,
  RECORD_BODY_FIXED,
  RECORD_FLAGS_MASK,
  RecordFlag,
  TIME_FIELD_SIZE,
} from './constants.js';
import type { WalRecord } from './record-input.js';

const TWO_32 = 4294967296;
/** The high word of every u64 below 2^53. */
const SAFE_HIGH = 0x200000;
const EMPTY = Buffer.alloc(0);

/** Reads a u64 as a bigint, with one allocation when it is below 2^53. */
function u64(buf: Buffer, pos: number): bigint {
  const hi = getU32(buf, pos + 4);
  return hi < SAFE_HIGH ? BigInt(hi * TWO_32 + getU32(buf, pos)) : buf.readBigUInt64LE(pos);
}

/** What a record cursor must know of the file it reads: its header's version and time base. */
export interface RecordFile {
  version: number;
  createdAtMs: number;
}

/**
 * The LSN of the record body at `buf[start..end)` as a number when it is a plain record —
 * kind RECORD, no optional parts but a time (when `timed`: the file is version 2), an LSN in
 * 1..2^53 − 1 — else 0 (never an LSN). `RecordCursor.recordAt` takes its short path on
 * exactly these bodies, so a reader can judge a run of frames first and build each record
 * (`plainRecordAt`) only when it hands it out.
 */
export function plainRecordLsn(buf: Buffer, start: number, end: number, timed = true): number {
  const flags = buf[start + 1];
  if (
    buf[start] !== BodyKind.RECORD ||
    (flags === 0
      ? end - start < RECORD_BODY_FIXED
      : flags !== RecordFlag.TIME || !timed || end - start < RECORD_BODY_FIXED + TIME_FIELD_SIZE)
  )
    return 0;
  const hi = getU32(buf, start + 8);
  return hi < SAFE_HIGH ? hi * TWO_32 + getU32(buf, start + 4) : 0;
}

/**
 * The time of the record or batch body at `buf[start..end)` in a version 2 file created at
 * `createdAtMs`, or undefined when it has none (another kind, no TIME flag, too short). Reads
 * the time field only: the body's other parts are for a reader to judge.
 */
export function bodyTime(
  buf: Buffer,
  start: number,
  end: number,
  createdAtMs: number,
): number | undefined {
  const kind = buf[start];
  if (kind === BodyKind.RECORD) {
    if (!(buf[start + 1]! & RecordFlag.TIME)) return undefined;
    const at = start + RECORD_BODY_FIXED;
    return at + TIME_FIELD_SIZE <= end ? createdAtMs + getU32(buf, at) : undefined;
  }
  if (kind === BodyKind.BATCH) {
    if (buf[start + 1] !== BatchFlag.TIME) return undefined;
    const at = start + BATCH_BODY_FIXED;
    return at + TIME_FIELD_SIZE <= end ? createdAtMs + getU32(buf, at) : undefined;
  }
  return undefined;
}

/**
 * Bytes the optional parts flagged in `flags` take at `buf[pos..end)`. Checks every
 * length against `end` before trusting it (WAL_CORRUPT otherwise).
 */
function optionalBytes(buf: Buffer, pos: number, end: number, flags: number): number {
  if (flags & ~RECORD_FLAGS_MASK) malformed(`unknown record flags 0x${flags.toString(16)}`);
  const start = pos;
  if (flags & RecordFlag.TENANT) {
    if (pos + 8 > end) malformed('tenant id runs past the body');
    pos += 8;
  }
  if (flags & RecordFlag.VSHARD) {
    if (pos + 4 > end) malformed('vshard id runs past the body');
    pos += 4;
  }
  if (flags & RecordFlag.DATABASE) {
    if (pos + 8 > end) malformed('database id runs past the body');
    pos += 8;
  }
  if (flags & RecordFlag.META) {
    if (pos + 4 > end) malformed('meta length runs past the body');
    const m = getU32(buf, pos);
    pos += 4;
    if (m > end - pos) malformed(`meta length ${m} runs past the body`);
    pos += m;
  }
  return pos - start;
}

/**
 * One decoded record held as positions in its buffer, so that reading a log builds no
 * object per record unless asked (`toRecord`). Reused from record to record: it is the
 * state behind `FrameScanner.advance()` and behind every record decoder of this package,
 * so all of them accept and reject exactly the same bodies.
 *
 * A batch is checked whole when it is opened (it is valid as a whole or not at all); its
 * entries are then read one by one without further checks.
 */
export class RecordCursor {
  /** The buffer holding the current record (the scanned buffer, or a decrypted body). */
  buf: Buffer = EMPTY;
  type = 0;
  flags = 0;
  /** LSN when it is below 2^53; otherwise `lsnBig` holds it. */
  lsnNumber = 0;
  lsnBig: bigint | null = null;
  /** Where the optional parts after the time start (they end at `payloadStart`). */
  optionalStart = 0;
  /** The current record's time (ms since the epoch), or undefined (see WalRecord.time). */
  time: number | undefined = undefined;
  /** The file's `createdAtMs`, or -1 when not known (its records' times are then undefined). */
  private timeBase = -1;
  /** Whether the file's version has the TIME flags (2 on); a version 1 body with one is malformed. */
  private timed = true;
  payloadStart = 0;
  payloadEnd = 0;

  /** Batch entries left to read after the current one. */
  private batchLeft = 0;
  private batchPos = 0;
  /** The buffer `recordAt` last cut a view of, with its ArrayBuffer and offset in it. */
  private viewed: Buffer = EMPTY;
  private viewedBuffer = EMPTY.buffer as ArrayBuffer;
  private viewedOffset = 0;

  /**
   * Tells the cursor the header of the file whose bodies it reads next: version 1 bodies may
   * not carry a time, version 2 times count from `createdAtMs`. Without it (or with
   * undefined) a cursor reads version 2's layout and leaves times undefined.
   */
  useFile(file: RecordFile | undefined): void {
    this.timed = file === undefined || file.version >= 2;
    this.timeBase = file === undefined ? -1 : file.createdAtMs;
  }

  /** Whether bodies with a time are allowed (the file is version 2, or not known). */
  get allowsTime(): boolean {
    return this.timed;
  }

  /** The time of a body whose u32 time field is at `pos`. */
  private timeAt(buf: Buffer, pos: number): number | undefined {
    return this.timeBase < 0 ? undefined : this.timeBase + getU32(buf, pos);
  }

  /** True while entries of an opened batch remain. */
  get inBatch(): boolean {
    return this.batchLeft > 0;
  }

  /** Forgets an opened batch (the caller moved on to other frames). */
  closeBatch(): void {
    this.batchLeft = 0;
  }

  /** Reads the record body at `buf[start..end)` (kind byte included). WAL_CORRUPT if malformed. */
  readRecord(buf: Buffer, start: number, end: number): void {
    if (end - start < RECORD_BODY_FIXED) malformed('record body shorter than 12 bytes');
    if (buf[start] !== BodyKind.RECORD) malformed(`body kind ${buf[start]} is not a record`);
    const lo = getU32(buf, start + 4);
    const hi = getU32(buf, start + 8);
    if (hi < SAFE_HIGH) {
      if (hi === 0 && lo === 0) malformed('record LSN 0');
      this.lsnNumber = hi * TWO_32 + lo;
      this.lsnBig = null;
    } else this.lsnBig = buf.readBigUInt64LE(start + 4);
    let flags = buf[start + 1]!;
    let optionalStart = start + RECORD_BODY_FIXED;
    this.time = undefined;
    if (flags & RecordFlag.TIME) {
      if (!this.timed) malformed('a record time in a version 1 file');
      if (end - optionalStart < TIME_FIELD_SIZE) malformed('record time runs past the body');
      this.time = this.timeAt(buf, optionalStart);
      optionalStart += TIME_FIELD_SIZE;
      flags &= ~RecordFlag.TIME;
    }
    this.buf = buf;
    this.type = buf[start + 2]! | (buf[start + 3]! << 8);
    this.flags = flags;
    this.optionalStart = optionalStart;
    this.payloadStart =
      flags === 0 ? optionalStart : optionalStart + optionalBytes(buf, optionalStart, end, flags);
    this.payloadEnd = end;
  }

  /**
   * Checks the whole batch body at `buf[start..end)` and makes its first entry current;
   * `nextEntry()` reads the others. WAL_CORRUPT if anything in it is malformed.
   */
  openBatch(buf: Buffer, start: number, end: number): void {
    this.batchLeft = 0;
    if (end - start < BATCH_BODY_FIXED) malformed('batch body shorter than 16 bytes');
    if (buf[start] !== BodyKind.BATCH) malformed(`body kind ${buf[start]} is not a batch`);
    const batchFlags = buf[start + 1]!;
    if (batchFlags & ~BatchFlag.TIME) malformed(`unknown batch flags 0x${batchFlags.toString(16)}`);
    if (batchFlags !== 0 && !this.timed) malformed('a batch time in a version 1 file');
    if (buf[start + 2] !== 0 || buf[start + 3] !== 0)
      malformed('batch reserved bytes are not zero');
    const entriesStart = start + BATCH_BODY_FIXED + (batchFlags === 0 ? 0 : TIME_FIELD_SIZE);
    if (entriesStart > end) malformed('batch time runs past the body');
    const count = getU32(buf, start + 4);
    const lo = getU32(buf, start + 8);
    const hi = getU32(buf, start + 12);
    if (count === 0) malformed('batch of 0 records');
    if (hi === 0 && lo === 0) malformed('batch first LSN 0');
    if (hi < SAFE_HIGH) {
      // Below 2^53, first + count - 1 (count < 2^32) cannot pass 2^64 - 1.
      this.lsnNumber = hi * TWO_32 + lo;
      this.lsnBig = null;
    } else {
      const first = buf.readBigUInt64LE(start + 8);
      if (first + BigInt(count - 1) > MAX_LSN) malformed('batch LSNs run past 2^64-1');
      this.lsnBig = first;
    }
    if (count > (end - entriesStart) / BATCH_ENTRY_FIXED)
      malformed(`batch count ${count} cannot fit its body`);
    let pos = entriesStart;
    for (let i = 0; i < count; i++) {
      if (pos + BATCH_ENTRY_FIXED > end) malformed(`batch entry ${i} runs past the body`);
      const p = getU32(buf, pos + 3);
      pos += BATCH_ENTRY_FIXED;
      pos += optionalBytes(buf, pos, end, buf[pos - BATCH_ENTRY_FIXED]!);
      if (p > end - pos) malformed(`batch entry ${i} payload length ${p} runs past the body`);
      pos += p;
    }
    if (pos !== end) malformed(`batch entries end at ${pos - start}, the body at ${end - start}`);
    this.buf = buf;
    this.time = batchFlags === 0 ? undefined : this.timeAt(buf, start + BATCH_BODY_FIXED);
    this.batchPos = entriesStart;
    this.batchLeft = count;
    this.readEntry();
  }

  /** Makes the next entry of the opened batch current (call only while `inBatch`). */
  nextEntry(): void {
    if (this.lsnBig !== null) this.lsnBig += 1n;
    else if (this.lsnNumber < Number.MAX_SAFE_INTEGER) this.lsnNumber++;
    else this.lsnBig = BigInt(this.lsnNumber) + 1n;
    this.readEntry();
  }

  /** Reads the entry at `batchPos`, which `openBatch` checked. */
  private readEntry(): void {
    const buf = this.buf;
    const pos = this.batchPos;
    const flags = buf[pos]!;
    const payloadLength = getU32(buf, pos + 3);
    const optionalStart = pos + BATCH_ENTRY_FIXED;
    this.type = buf[pos + 1]! | (buf[pos + 2]! << 8);
    this.flags = flags;
    this.optionalStart = optionalStart;
    const payloadStart =
      flags === 0
        ? optionalStart
        : optionalStart + optionalBytes(buf, optionalStart, buf.length, flags);
    this.payloadStart = payloadStart;
    this.payloadEnd = payloadStart + payloadLength;
    this.batchPos = this.payloadEnd;
    this.batchLeft--;
  }

  /**
   * Decodes the record body at `buf[start..end)` into a new record, like `readRecord` then
   * `toRecord`. The common layout (no routing ids, no meta, an LSN below 2^53) takes
   * `plainRecordAt`'s path, short enough for replay loops to inline; the cursor reads
   * everything else and rejects what is malformed (LSN 0 too).
   */
  recordAt(buf: Buffer, start: number, end: number): WalRecord {
    const lsn = plainRecordLsn(buf, start, end, this.timed);
    return lsn === 0 ? this.readWhole(buf, start, end) : this.plainRecordAt(buf, start, end, lsn);
  }

  /**
   * `recordAt` for a body `plainRecordLsn` judged plain with LSN `lsn` (not 0): builds the
   * record without checking the body again, with the view's ArrayBuffer kept from the
   * previous call on the same `buf`, and makes its bigint LSN from `lsn` in one allocation
   * (reading the u64 back as a bigint takes four).
   */
  plainRecordAt(buf: Buffer, start: number, end: number, lsn: number): WalRecord {
    if (buf !== this.viewed) {
      this.viewed = buf;
      this.viewedBuffer = buf.buffer as ArrayBuffer;
      this.viewedOffset = buf.byteOffset;
    }
    const untimed = buf[start + 1] === 0;
    const fixed = untimed ? RECORD_BODY_FIXED : RECORD_BODY_FIXED + TIME_FIELD_SIZE;
    return {
      lsn: BigInt(lsn),
      type: buf[start + 2]! | (buf[start + 3]! << 8),
      payload: new BufferView(
        this.viewedBuffer,
        this.viewedOffset + start + fixed,
        end - start - fixed,
      ) as unknown as Buffer,
      meta: undefined,
      tenantId: undefined,
      vshardId: undefined,
      databaseId: undefined,
      time: untimed ? undefined : this.timeAt(buf, start + RECORD_BODY_FIXED),
    };
  }

  private readWhole(buf: Buffer, start: number, end: number): WalRecord {
    this.readRecord(buf, start, end);
    return this.toRecord();
  }

  /** The current LSN as a bigint. */
  lsn(): bigint {
    return this.lsnBig ?? BigInt(this.lsnNumber);
  }

  /** The current record as an object; `payload` and `meta` are views into `buf`. */
  toRecord(): WalRecord {
    const buf = this.buf;
    const rec: WalRecord = {
      lsn: this.lsnBig ?? BigInt(this.lsnNumber),
      type: this.type,
      payload: bufferView(buf, this.payloadStart, this.payloadEnd),
      meta: undefined,
      tenantId: undefined,
      vshardId: undefined,
      databaseId: undefined,
      time: this.time,
    };
    const flags = this.flags;
    if (flags === 0) return rec;
    let pos = this.optionalStart;
    if (flags & RecordFlag.TENANT) {
      rec.tenantId = u64(buf, pos);
      pos += 8;
    }
    if (flags & RecordFlag.VSHARD) {
      rec.vshardId = getU32(buf, pos);
      pos += 4;
    }
    if (flags & RecordFlag.DATABASE) {
      rec.databaseId = u64(buf, pos);
      pos += 8;
    }
    if (flags & RecordFlag.META) rec.meta = bufferView(buf, pos + 4, pos + 4 + getU32(buf, pos));
    return rec;
  }
}
