import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { crc32c } from '../src/crc/crc32c.js';
import {
  type CursorSlot,
  cursorSlotOffset,
  type DecodedCursor,
  encodeCursorFile,
  encodeCursorSlot,
} from '../src/files/cursor-file.js';
import { decodeFileHeader, encodeFileHeader, type FileHeader } from '../src/files/file-header.js';
import { encodeRetention, type RetentionSettings } from '../src/files/retention-file.js';
import { BodyKind } from '../src/format/constants.js';
import { type CoreEntry, encodeCoreEntryFrame } from '../src/format/core-entry.js';
import { type FrameCipher, frameCipherWithFixedNonce, KeyRing } from '../src/format/crypto.js';
import { encodeDurableMark } from '../src/format/durable-mark.js';
import { encodeFrame } from '../src/format/frame.js';
import {
  encodeBatchFrame,
  encodeRecordFrame,
  type WalRecord,
  type WalRecordInput,
} from '../src/format/records.js';

/** Reads test/vectors/: the meanings in vectors.json and the bytes of each .hex file. */
export const VECTOR_DIR = fileURLToPath(new URL('./vectors/', import.meta.url));

export interface Vector {
  name: string;
  file: string;
  kind:
    | 'fileHeader'
    | 'records'
    | 'coreEntry'
    | 'padding'
    | 'durableMark'
    | 'encrypted'
    | 'compressed'
    | 'scan'
    | 'cursor'
    | 'retention';
  meaning: Record<string, unknown> | unknown[];
  /** Records of a version 2 file: its header's version and time base (records carry `time`). */
  inFile?: { version: number; createdAtMs: number };
}

export function loadVectors(): Vector[] {
  return JSON.parse(readFileSync(`${VECTOR_DIR}vectors.json`, 'utf8')).vectors as Vector[];
}

export function readHex(file: string): Buffer {
  return Buffer.from(readFileSync(`${VECTOR_DIR}${file}`, 'utf8').replace(/\s+/g, ''), 'hex');
}

/** Hex in lines of 32 bytes, as the .hex files are written. */
export function toHexLines(bytes: Buffer): string {
  const hex = bytes.toString('hex');
  return `${(hex.match(/.{1,64}/g) ?? []).join('\n')}\n`;
}

type Json = Record<string, unknown>;
const big = (v: unknown): bigint => BigInt(v as string);
const bytes = (v: unknown): Buffer => Buffer.from(v as string, 'hex');

export function headerOf(m: Json): FileHeader {
  return {
    version: m.version as number,
    headerLength: m.headerLength as number,
    firstLsn: big(m.firstLsn),
    salt: bytes(m.salt),
    cipher: m.cipher as FileHeader['cipher'],
    fileKind: m.fileKind as FileHeader['fileKind'],
    keyId: m.keyId as number,
    createdAtMs: m.createdAtMs as number,
    logId: m.logId === undefined ? 0n : big(m.logId),
    compressed: m.compressed === true,
  };
}

export function recordOf(m: Json): WalRecord {
  return {
    lsn: big(m.lsn),
    type: m.type as number,
    payload: bytes(m.payload),
    meta: m.meta === undefined ? undefined : bytes(m.meta),
    tenantId: m.tenantId === undefined ? undefined : big(m.tenantId),
    vshardId: m.vshardId as number | undefined,
    databaseId: m.databaseId === undefined ? undefined : big(m.databaseId),
    time: m.time as number | undefined,
  };
}

/** The encoders' time argument for `record` in `file` (undefined for a record without time). */
export function timeArgument(record: WalRecord, file: Vector['inFile']): number | undefined {
  return record.time === undefined ? undefined : record.time - file!.createdAtMs;
}

/** The append input that produces `record` (its LSN aside). */
export function inputOf(record: WalRecord): WalRecordInput {
  const input: WalRecordInput = { type: record.type, payload: record.payload };
  if (record.meta !== undefined) input.meta = record.meta;
  if (record.tenantId !== undefined) input.tenantId = record.tenantId;
  if (record.vshardId !== undefined) input.vshardId = record.vshardId;
  if (record.databaseId !== undefined) input.databaseId = record.databaseId;
  return input;
}

export function coreEntryOf(m: Json): CoreEntry {
  const head = {
    coreId: m.coreId as number,
    epoch: big(m.epoch),
    sequence: big(m.sequence),
    timestampNs: big(m.timestampNs),
  };
  switch (m.op) {
    case 'put':
      return { op: 'put', key: bytes(m.key), value: bytes(m.value), ...head };
    case 'delete':
      return { op: 'delete', key: bytes(m.key), ...head };
    case 'checkpoint':
      return { op: 'checkpoint', checkpointId: big(m.checkpointId), ...head };
    case 'commit': {
      const offsets = new Map((m.offsets as [string, string][]).map(([k, v]) => [k, BigInt(v)]));
      if (m.watermark === undefined) return { op: 'commit', offsets, ...head };
      return { op: 'commit', offsets, watermark: big(m.watermark), ...head };
    }
    case 'epochBarrier':
      return { op: 'epochBarrier', ...head };
    default:
      throw new Error(`unknown op ${String(m.op)}`);
  }
}

/** Builds a scan vector's bytes from its parts: "file", "file:cut:N", "file:flip:N", "zeros:N". */
export function assembleParts(parts: string[]): Buffer {
  return Buffer.concat(
    parts.map((part) => {
      const [file, op, n] = part.split(':') as [string, string?, string?];
      if (file === 'zeros') return Buffer.alloc(Number(op));
      const b = readHex(file);
      if (op === 'cut') return b.subarray(0, Number(n));
      if (op === 'flip') b[Number(n)]! ^= 0xff;
      return b;
    }),
  );
}

/** Encodes a vector's meaning with this implementation. */
export function encodeVector(v: Vector): Buffer {
  const out = Buffer.alloc(4096);
  const m = v.meaning as Json;
  switch (v.kind) {
    case 'fileHeader':
      return encodeFileHeader(headerOf(m));
    case 'records': {
      const records = (v.meaning as Json[]).map(recordOf);
      const time = timeArgument(records[0]!, v.inFile);
      const n =
        records.length === 1
          ? encodeRecordFrame(out, 0, records[0]!.lsn, inputOf(records[0]!), time)
          : encodeBatchFrame(out, 0, records[0]!.lsn, records.map(inputOf), time);
      return Buffer.from(out.subarray(0, n));
    }
    case 'coreEntry':
      return Buffer.from(out.subarray(0, encodeCoreEntryFrame(out, 0, coreEntryOf(m))));
    case 'padding': {
      const body = Buffer.alloc(m.bodyLength as number);
      body[0] = BodyKind.PADDING;
      return Buffer.from(out.subarray(0, encodeFrame(out, 0, body)));
    }
    case 'durableMark':
      return Buffer.from(out.subarray(0, encodeDurableMark(out, 0, m.durableEnd as number)));
    case 'encrypted': {
      const cipher = vectorCipher(m);
      const records = (m.records as Json[]).map(recordOf);
      const plain = Buffer.alloc(1024);
      const time = timeArgument(records[0]!, v.inFile);
      const n = encodeRecordFrame(plain, 0, records[0]!.lsn, inputOf(records[0]!), time);
      return Buffer.from(out.subarray(0, cipher.encryptFrame(out, 0, plain.subarray(8, n))));
    }
    case 'compressed':
      throw new Error('zstd bytes differ between zstd versions: see compressedVectorOf');
    case 'scan':
      return assembleParts(m.parts as string[]);
    case 'cursor':
      return encodeCursorVector(m);
    case 'retention':
      return encodeRetentionVector(m);
  }
}

/** The cipher of an encrypted vector: its ring key and salt, with the vector's fixed nonce. */
export function vectorCipher(m: Json): FrameCipher {
  const ring = new KeyRing([[m.ringKeyId as number, bytes(m.ringKey)]], m.ringKeyId as number);
  const header = decodeFileHeader(
    encodeFileHeader({
      firstLsn: 0n,
      salt: bytes(m.fileSalt),
      cipher: 'aes-256-gcm',
      fileKind: 'core',
      keyId: m.ringKeyId as number,
      createdAtMs: 0,
    }),
  );
  return frameCipherWithFixedNonce(ring, header, bytes(m.noncePrefix), m.nonceCounter as number);
}

const slotOf = (m: Json): CursorSlot => ({
  lsn: big(m.lsn),
  generation: big(m.generation),
  sequence: big(m.sequence),
});

/** What a cursor vector decodes to. */
export function cursorOf(m: Json): DecodedCursor {
  const position = m.position as Json;
  return {
    ...slotOf(position),
    layout: m.layout as DecodedCursor['layout'],
    slot: position.slot as 0 | 1,
  };
}

/**
 * A cursor vector's bytes: the slotted layout from its two slots, the first release's
 * 20-byte layout (which no writer produces any more) spelled out here.
 */
function encodeCursorVector(m: Json): Buffer {
  if (m.layout === 'whole') {
    const { lsn, generation } = cursorOf(m);
    const b = Buffer.alloc(20);
    b.writeBigUInt64LE(lsn, 0);
    b.writeBigUInt64LE(generation, 8);
    b.writeUInt32LE(crc32c(b.subarray(0, 16)), 16);
    return b;
  }
  const [first, second] = (m.slots as Json[]).map(slotOf) as [CursorSlot, CursorSlot];
  const file = encodeCursorFile(first);
  encodeCursorSlot(second).copy(file, cursorSlotOffset(1));
  return file;
}

/** What a RETENTION vector decodes to (its `layout` aside). */
export function retentionOf(m: Json): RetentionSettings {
  const { layout: _, ...settings } = m;
  return settings as unknown as RetentionSettings;
}

/**
 * A RETENTION vector's bytes: version 2 by this implementation, the first release's
 * 37-byte layout (which no writer produces any more) spelled out here.
 */
function encodeRetentionVector(m: Json): Buffer {
  const settings = retentionOf(m);
  if (m.layout !== 'v1') return encodeRetention(settings);
  const b = Buffer.alloc(37);
  const limits = [settings.maxBytes, settings.maxSegments, settings.maxCursorLagBytes];
  limits.forEach((value, i) => {
    b.writeBigUInt64LE(value === null ? 2n ** 64n - 1n : BigInt(value), i * 8);
  });
  b.writeBigUInt64LE(BigInt(settings.intervalMs), 24);
  b.writeUInt8(settings.beforeDelete ? 1 : 0, 32);
  b.writeUInt32LE(crc32c(b.subarray(0, 33)), 33);
  return b;
}
