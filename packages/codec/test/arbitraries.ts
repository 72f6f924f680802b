import fc from 'fast-check';
import { decodeFileHeader, encodeFileHeader } from '../src/files/file-header.js';
import type { CoreEntry } from '../src/format/core-entry.js';
import { coreEntryFrameSize, encodeCoreEntryFrame } from '../src/format/core-entry.js';
import { FrameCipher, KeyRing } from '../src/format/crypto.js';
import { encodeFrame } from '../src/format/frame.js';
import {
  batchFrameSize,
  encodeBatchFrame,
  encodeRecordFrame,
  recordFrameSize,
  type WalRecord,
  type WalRecordInput,
} from '../src/format/records.js';

const U64 = (1n << 64n) - 1n;

const testRing = new KeyRing([[7, Buffer.alloc(32, 0x5a)]], 7);
const testHeader = decodeFileHeader(
  encodeFileHeader({
    firstLsn: 1n,
    salt: Buffer.alloc(16, 3),
    cipher: 'aes-256-gcm',
    fileKind: 'segment',
    keyId: 7,
  }),
);

/** A fresh cipher of one encrypted test file (the writer and each reader make their own). */
export function testCipher(): FrameCipher {
  return FrameCipher.forFile(testRing, testHeader);
}
const bytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((u) => Buffer.from(u));

export const recordInput: fc.Arbitrary<WalRecordInput> = fc.record(
  {
    type: fc.integer({ min: 0, max: 0xffff }),
    payload: bytes(200),
    meta: bytes(40),
    tenantId: fc.bigInt({ min: 0n, max: U64 }),
    vshardId: fc.integer({ min: 0, max: 0xffffffff }),
    databaseId: fc.bigInt({ min: 0n, max: U64 }),
  },
  { requiredKeys: ['payload'] },
);

export type LogItem =
  | { kind: 'record'; input: WalRecordInput }
  | { kind: 'batch'; inputs: WalRecordInput[] }
  | { kind: 'padding'; size: number };

export const logItem: fc.Arbitrary<LogItem> = fc.oneof(
  { weight: 5, arbitrary: recordInput.map((input) => ({ kind: 'record' as const, input })) },
  {
    weight: 2,
    arbitrary: fc
      .array(recordInput, { minLength: 1, maxLength: 6 })
      .map((inputs) => ({ kind: 'batch' as const, inputs })),
  },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 1, max: 40 }).map((size) => ({ kind: 'padding' as const, size })),
  },
);

export const log = fc.record({
  firstLsn: fc.bigInt({ min: 1n, max: 1n << 62n }),
  items: fc.array(logItem, { minLength: 1, maxLength: 12 }),
});

/** A frame of an encoded log: where it is, and the records it holds. */
export interface EncodedFrame {
  start: number;
  end: number;
  records: WalRecord[];
}

function expected(lsn: bigint, input: WalRecordInput): WalRecord {
  const meta = input.meta === undefined ? undefined : Buffer.from(input.meta);
  return { lsn, ...input, type: input.type ?? 0, payload: Buffer.from(input.payload), meta };
}

/** Encodes a log (encrypting each frame when `cipher` is given) and says where each frame is. */
export function encodeLog(
  model: { firstLsn: bigint; items: LogItem[] },
  cipher?: FrameCipher,
): { buf: Buffer; frames: EncodedFrame[]; records: WalRecord[] } {
  let lsn = model.firstLsn;
  const frames: EncodedFrame[] = [];
  const plain = Buffer.alloc(64 * 1024);
  const out = Buffer.alloc(64 * 1024);
  let at = 0;
  for (const item of model.items) {
    let n: number;
    let records: WalRecord[] = [];
    if (item.kind === 'record') {
      n = encodeRecordFrame(plain, 0, lsn, item.input);
      if (n !== recordFrameSize(item.input)) throw new Error('recordFrameSize disagrees');
      records = [expected(lsn, item.input)];
      lsn += 1n;
    } else if (item.kind === 'batch') {
      n = encodeBatchFrame(plain, 0, lsn, item.inputs);
      if (n !== batchFrameSize(item.inputs)) throw new Error('batchFrameSize disagrees');
      records = item.inputs.map((input, i) => expected(lsn + BigInt(i), input));
      lsn += BigInt(item.inputs.length);
    } else {
      const body = Buffer.alloc(item.size);
      body[0] = 4;
      n = encodeFrame(plain, 0, body);
    }
    const size = cipher
      ? cipher.encryptFrame(out, at, plain.subarray(8, n))
      : plain.copy(out, at, 0, n);
    frames.push({ start: at, end: at + size, records });
    at += size;
  }
  return {
    buf: Buffer.from(out.subarray(0, at)),
    frames,
    records: frames.flatMap((f) => f.records),
  };
}

export const coreEntry: fc.Arbitrary<CoreEntry> = fc
  .tuple(
    fc.record({
      coreId: fc.integer({ min: 0, max: 0xffff }),
      epoch: fc.bigInt({ min: 0n, max: U64 }),
      sequence: fc.bigInt({ min: 0n, max: U64 }),
      timestampNs: fc.bigInt({ min: 0n, max: U64 }),
    }),
    fc.oneof(
      fc.record({ op: fc.constant('put' as const), key: bytes(30), value: bytes(100) }),
      fc.record({ op: fc.constant('delete' as const), key: bytes(30) }),
      fc.record({
        op: fc.constant('checkpoint' as const),
        checkpointId: fc.bigInt({ min: 0n, max: U64 }),
      }),
      fc.record(
        {
          op: fc.constant('commit' as const),
          offsets: fc
            .array(
              fc.tuple(
                fc.string({ unit: 'grapheme', maxLength: 12 }),
                fc.bigInt({ min: 0n, max: U64 }),
              ),
              {
                maxLength: 5,
              },
            )
            .map((pairs) => new Map(pairs)),
          watermark: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
        },
        { requiredKeys: ['op', 'offsets'] },
      ),
      fc.record({ op: fc.constant('epochBarrier' as const) }),
    ),
  )
  .map(([head, op]) => ({ ...op, ...head }) as CoreEntry);

/** Encodes per-core entries back to back. */
export function encodeCoreLog(entries: CoreEntry[]): {
  buf: Buffer;
  frames: { start: number; end: number }[];
} {
  const buf = Buffer.alloc(entries.reduce((n, e) => n + coreEntryFrameSize(e), 0));
  const frames: { start: number; end: number }[] = [];
  let at = 0;
  for (const entry of entries) {
    const n = encodeCoreEntryFrame(buf, at, entry);
    frames.push({ start: at, end: at + n });
    at += n;
  }
  return { buf, frames };
}
