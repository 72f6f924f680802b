import { describe, expect, it } from 'vitest';
import { WalErrorCode } from '../errors/errors.js';
import { expectWalError } from '../testing/index.js';
import { sealFrames } from './frame-run.js';
import {
  batchFrameSize,
  decodeBatchBody,
  decodeRecordBody,
  encodeBatchFrame,
  encodeRecordFrame,
  encodeRecordFramesUnsealed,
  encodeRecordFrameUnsealed,
  RECORD_FIELDS,
  recordFrameSize,
  recordFramesSize,
  validateRecordInput,
  type WalRecordInput,
} from './records.js';
import { FrameScanner } from './scanner.js';

describe('record frames', () => {
  it('cost 20 bytes of overhead for a plain record', () => {
    expect(recordFrameSize({ payload: Buffer.alloc(100) })).toBe(120);
  });

  it('round-trip a record with every optional field', () => {
    const input: WalRecordInput = {
      type: 513,
      payload: Buffer.from('payload'),
      meta: Buffer.from('meta'),
      tenantId: 2n ** 64n - 1n,
      vshardId: 2 ** 32 - 1,
      databaseId: 9n,
    };
    const buf = Buffer.alloc(200);
    const n = encodeRecordFrame(buf, 5, 77n, input);
    expect(n).toBe(recordFrameSize(input));
    expect(decodeRecordBody(buf.subarray(13, 5 + n))).toEqual({ lsn: 77n, ...input });
  });

  it('round-trip a batch with LSNs first, first+1, …', () => {
    const inputs: WalRecordInput[] = [
      { payload: Buffer.from('a') },
      { payload: Buffer.alloc(0), type: 3, tenantId: 1n },
      { payload: Buffer.from('ccc'), meta: Buffer.alloc(0) },
    ];
    const buf = Buffer.alloc(batchFrameSize(inputs));
    expect(encodeBatchFrame(buf, 0, 10n, inputs)).toBe(buf.length);
    const records = decodeBatchBody(buf.subarray(8));
    expect(records.map((r) => r.lsn)).toEqual([10n, 11n, 12n]);
    expect(records[1]).toMatchObject({ type: 3, tenantId: 1n, payload: Buffer.alloc(0) });
    expect(records[2]!.meta).toEqual(Buffer.alloc(0));
  });

  it('reject bad input with stable codes', () => {
    const buf = Buffer.alloc(64);
    const payload = Buffer.alloc(1);
    expectWalError(() => encodeRecordFrame(buf, 0, 0n, { payload }), WalErrorCode.BAD_ARGUMENT);
    expectWalError(
      () => encodeRecordFrame(buf, 0, 2n ** 64n, { payload }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeRecordFrame(buf, 0, 1 as unknown as bigint, { payload }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeRecordFrame(buf, 0, 1n, { payload, type: 65536 }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeRecordFrame(buf, 0, 1n, { payload, vshardId: -1 }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeRecordFrame(buf, 0, 1n, { payload, tenantId: -1n }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeRecordFrame(buf, 0, 1n, { payload: 'x' as unknown as Buffer }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(() => encodeBatchFrame(buf, 0, 1n, []), WalErrorCode.BAD_ARGUMENT);
    expectWalError(
      () => encodeBatchFrame(buf, 0, 2n ** 64n - 1n, [{ payload }, { payload }]),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => validateRecordInput({ payload: Buffer.alloc(10), meta: Buffer.alloc(7) }, 16),
      WalErrorCode.RECORD_TOO_LARGE,
    );
    expect(() =>
      validateRecordInput({ payload: Buffer.alloc(10), meta: Buffer.alloc(6) }, 16),
    ).not.toThrow();
  });

  it('write LSNs on both sides of 2^53 exactly (numbers below, bigints from there on)', () => {
    const lsns = [1n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 64n - 1n];
    for (const lsn of lsns) {
      const buf = Buffer.alloc(32);
      encodeRecordFrame(buf, 0, lsn, { payload: Buffer.from('x') });
      expect(buf.readBigUInt64LE(12)).toBe(lsn);
      expect(decodeRecordBody(buf.subarray(8, 21)).lsn).toBe(lsn);
    }
    const payload = Buffer.alloc(1);
    for (const bad of [-1n, -(2n ** 60n), 2n ** 64n + 1n, 2 ** 53, Number.NaN, '1', null])
      expectWalError(
        () => encodeRecordFrame(Buffer.alloc(32), 0, bad as bigint, { payload }),
        WalErrorCode.BAD_ARGUMENT,
      );
  });

  it('refuse a frame that does not fit the target with WAL_BAD_ARGUMENT, writing nothing', () => {
    const target = Buffer.alloc(20);
    const error = expectWalError(
      () => encodeRecordFrame(target, 0, 1n, { payload: Buffer.alloc(1) }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toMatch(
      /a frame of \d+ bytes at offset 0 does not fit a target of 20 bytes; pass a larger target/,
    );
    expect(error.details).toMatchObject({ offset: 0, targetBytes: 20 });
    expect(target.equals(Buffer.alloc(20))).toBe(true);
  });

  it('land in the target they are given when targets alternate, at its own byte offset', () => {
    const memory = Buffer.alloc(256);
    const a = memory.subarray(3, 100);
    const b = memory.subarray(131, 228);
    const payload = Buffer.from('alternating');
    for (let lsn = 1n; lsn <= 4n; lsn += 2n) {
      memory.fill(0);
      encodeRecordFrame(a, 0, lsn, { payload });
      encodeRecordFrame(b, 0, lsn + 1n, { payload });
      expect(new FrameScanner(a).nextRecord()).toMatchObject({ lsn, payload });
      expect(new FrameScanner(b).nextRecord()).toMatchObject({ lsn: lsn + 1n, payload });
      const outside = [memory.subarray(0, 3), memory.subarray(100, 131), memory.subarray(228)];
      expect(outside.every((bytes) => bytes.every((byte) => byte === 0))).toBe(true);
    }
  });

  it('write into a length-tracking view of a resizable buffer after it grew', () => {
    type Resizable = new (
      length: number,
      options: { maxByteLength: number },
    ) => ArrayBuffer & {
      resize(length: number): void;
    };
    const memory = new (ArrayBuffer as unknown as Resizable)(64, { maxByteLength: 1024 });
    const target = new Uint8Array(memory) as unknown as Buffer;
    const input = { payload: Buffer.from('grows') };
    const n = encodeRecordFrame(target, 0, 1n, input);
    memory.resize(1024);
    encodeRecordFrame(target, 900, 2n, input);
    const bytes = Buffer.from(memory);
    expect(decodeRecordBody(bytes.subarray(8, n)).payload).toEqual(input.payload);
    expect(decodeRecordBody(bytes.subarray(908, 900 + n)).lsn).toBe(2n);
  });

  it('decode malformed bodies as WAL_CORRUPT', () => {
    const buf = Buffer.alloc(64);
    const n = encodeRecordFrame(buf, 0, 1n, { payload: Buffer.from('x'), meta: Buffer.from('m') });
    const body = Buffer.from(buf.subarray(8, n));
    body.writeUInt32LE(99, 12); // meta length beyond the body
    expectWalError(() => decodeRecordBody(body), WalErrorCode.CORRUPT);
    expectWalError(() => decodeRecordBody(Buffer.alloc(11, 1)), WalErrorCode.CORRUPT);
  });
});

describe('encodeRecordFramesUnsealed', () => {
  const inputs: WalRecordInput[] = [
    { payload: Buffer.from('a') },
    { payload: Buffer.alloc(0), type: 3, tenantId: 1n },
    { payload: Buffer.from('ccc'), meta: Buffer.from('m'), vshardId: 7, databaseId: 2n },
  ];

  it('writes the same bytes as one encodeRecordFrameUnsealed per record, LSNs counting up', () => {
    for (const first of [1n, 2n ** 32n - 2n, 2n ** 53n - 1n, 2n ** 64n - 3n]) {
      const size = recordFramesSize(inputs);
      const many = Buffer.alloc(size + 3);
      expect(encodeRecordFramesUnsealed(many, 3, first, inputs)).toBe(size);
      const one = Buffer.alloc(size + 3);
      let at = 3;
      inputs.forEach((input, i) => {
        at += encodeRecordFrameUnsealed(one, at, first + BigInt(i), input);
      });
      expect(at).toBe(size + 3);
      expect(many).toEqual(one);
      sealFrames(many, 3);
      const lsns = [];
      for (let p = 3; p < many.length; p += 8 + many.readUInt32LE(p + 4))
        lsns.push(decodeRecordBody(many.subarray(p + 8, p + 8 + many.readUInt32LE(p + 4))).lsn);
      expect(lsns).toEqual([first, first + 1n, first + 2n]);
    }
  });

  it('writes nothing for no records', () => {
    expect(encodeRecordFramesUnsealed(Buffer.alloc(0), 0, 1n, [])).toBe(0);
    expect(recordFramesSize([])).toBe(0);
  });

  it('rejects bad arguments with stable codes and names the record at fault', () => {
    const buf = Buffer.alloc(256);
    const payload = Buffer.alloc(1);
    expectWalError(
      () => encodeRecordFramesUnsealed(buf, 0, 0n, [{ payload }]),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeRecordFramesUnsealed(buf, 0, 2n ** 64n - 1n, [{ payload }, { payload }]),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(() => encodeRecordFramesUnsealed(buf, 0, 2n ** 64n - 1n, [{ payload }])).not.toThrow();
    const four = [{ payload }, { payload }, { payload }, { payload }];
    expect(() => encodeRecordFramesUnsealed(buf, 0, 2n ** 64n - 4n, four)).not.toThrow();
    expectWalError(
      () => encodeRecordFramesUnsealed(buf, 0, 2n ** 64n - 3n, four),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(() => encodeRecordFramesUnsealed(buf, 0, 2n ** 63n - 2n, four)).not.toThrow();
    expectWalError(
      () => encodeRecordFramesUnsealed(buf, 0, 1n, { payload } as unknown as []),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(() => recordFramesSize({ payload } as unknown as []), WalErrorCode.BAD_ARGUMENT);
    const bad = [{ payload }, { payload, type: -1 }];
    expect(() => encodeRecordFramesUnsealed(buf, 0, 1n, bad)).toThrow(/records\[1\]\.type/);
    expect(() => recordFramesSize(bad)).toThrow(/records\[1\]\.type/);
    expectWalError(
      () => encodeRecordFramesUnsealed(Buffer.alloc(30), 0, 1n, [{ payload }, { payload }]),
      WalErrorCode.BAD_ARGUMENT,
    );
  });
});

describe('record fields', () => {
  it('accept exactly the integers of their range', () => {
    const buf = Buffer.alloc(64);
    const payload = Buffer.alloc(1);
    for (const type of [0, 1, 0xffff])
      expect(() => encodeRecordFrame(buf, 0, 1n, { payload, type })).not.toThrow();
    for (const type of [-1, 0x10000, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '1', 1n, null])
      expectWalError(
        () => encodeRecordFrame(buf, 0, 1n, { payload, type: type as number }),
        WalErrorCode.BAD_ARGUMENT,
      );
    for (const vshardId of [0, 2 ** 32 - 1])
      expect(() => encodeRecordFrame(buf, 0, 1n, { payload, vshardId })).not.toThrow();
    for (const vshardId of [2 ** 32, -1, 0.5, Number.NaN, '1', 1n])
      expectWalError(
        () => encodeRecordFrame(buf, 0, 1n, { payload, vshardId: vshardId as number }),
        WalErrorCode.BAD_ARGUMENT,
      );
    for (const tenantId of [-1n, 2n ** 64n, 1, null])
      expectWalError(
        () => encodeRecordFrame(buf, 0, 1n, { payload, tenantId: tenantId as bigint }),
        WalErrorCode.BAD_ARGUMENT,
      );
    expect(() => encodeRecordFrame(buf, 0, 1n, { payload, type: 70000 })).toThrow(/record\.type/);
  });
});

describe('a record field the format does not have', () => {
  const buf = Buffer.alloc(256);
  const payload = Buffer.from('p');

  it('is refused with WAL_BAD_ARGUMENT naming the field meant, never dropped silently', () => {
    const slip = { payload, metadata: Buffer.from('m') } as unknown as WalRecordInput;
    expect(() => encodeRecordFrame(buf, 0, 1n, slip)).toThrow(
      /"metadata" is not a field of a record — did you mean meta\?/,
    );
    expectWalError(() => validateRecordInput(slip), WalErrorCode.BAD_ARGUMENT);
    const typo = { payload, tenantid: 1n } as unknown as WalRecordInput;
    expect(() => recordFrameSize(typo)).toThrow(/did you mean tenantId\?/);
  });

  it('is refused inside a batch, naming the record', () => {
    const batch = [{ payload }, { payload, typ: 3 } as unknown as WalRecordInput];
    expect(() => encodeBatchFrame(buf, 0, 1n, batch)).toThrow(
      /"typ" is not a field of batch\[1\] — did you mean type\?/,
    );
  });

  it('is none of RECORD_FIELDS: each of them is accepted', () => {
    for (const field of RECORD_FIELDS) {
      const input = { [field]: undefined, payload } as unknown as WalRecordInput;
      expect(() => recordFrameSize(input)).not.toThrow();
    }
  });

  it('includes an LSN: a decoded record is not appended at its old LSN by passing it back', () => {
    const decoded = { lsn: 7n, type: 0, payload } as unknown as WalRecordInput;
    expectWalError(() => recordFrameSize(decoded), WalErrorCode.BAD_ARGUMENT);
  });
});

/** A record whose payload and meta getters answer with a longer buffer on every read. */
function growingRecord(): WalRecordInput {
  let reads = 0;
  return {
    get payload() {
      reads++;
      return Buffer.alloc(4 * reads, 0x50 + reads);
    },
    get meta() {
      reads++;
      return Buffer.alloc(2 * reads, 0x60 + reads);
    },
  };
}

describe('a record whose getters answer differently on every read', () => {
  it('is written as one consistent frame by encodeRecordFrame, nothing past it', () => {
    const buf = Buffer.alloc(512);
    const n = encodeRecordFrame(buf, 0, 9n, growingRecord());
    const scanner = new FrameScanner(buf);
    const record = scanner.nextRecord();
    expect(record?.lsn).toBe(9n);
    expect(scanner.nextRecord()).toBeNull();
    expect(scanner.stop).toMatchObject({ kind: 'eof', offset: n });
  });

  it('is written as one consistent frame inside a batch, nothing past it', () => {
    const buf = Buffer.alloc(1024);
    const inputs = [{ payload: Buffer.from('a') }, growingRecord(), growingRecord()];
    const n = encodeBatchFrame(buf, 0, 1n, inputs);
    const scanner = new FrameScanner(buf);
    const records = [...scanner.records()];
    expect(records.map((r) => r.lsn)).toEqual([1n, 2n, 3n]);
    expect(records[0]!.payload).toEqual(Buffer.from('a'));
    expect(scanner.stop).toMatchObject({ kind: 'eof', offset: n });
  });

  it('cannot re-enter the batch encoder from a getter', () => {
    const buf = Buffer.alloc(1024);
    const reentrant = {
      get payload() {
        try {
          encodeBatchFrame(Buffer.alloc(256), 0, 1n, [{ payload: Buffer.from('inner') }]);
        } catch {}
        return Buffer.from('outer');
      },
    };
    const inputs = [{ payload: Buffer.from('a') }, reentrant];
    expectWalError(() => encodeBatchFrame(buf, 0, 1n, inputs), WalErrorCode.BAD_ARGUMENT);
    expect(buf.every((byte) => byte === 0)).toBe(true);
    const n = encodeBatchFrame(buf, 0, 1n, [{ payload: Buffer.from('after') }]);
    expect([...new FrameScanner(buf.subarray(0, n)).records()].length).toBe(1);
  });
});

describe('decoded views', () => {
  it('are Buffers sharing memory with the scanned bytes', () => {
    const buf = Buffer.alloc(64);
    const n = encodeRecordFrame(buf, 0, 1n, {
      payload: Buffer.from('abc'),
      meta: Buffer.from('m'),
    });
    const rec = decodeRecordBody(buf.subarray(8, n));
    expect(rec.payload).toEqual(Buffer.from('abc'));
    expect(rec.payload.toString('utf8')).toBe('abc');
    expect(rec.payload.equals(Buffer.from('abc'))).toBe(true);
    expect(Buffer.isBuffer(rec.payload.subarray(1))).toBe(true);
    buf[n - 1] = 0x7a;
    expect(rec.payload.toString()).toBe('abz');
    expect(rec.meta?.readUInt8(0)).toBe(0x6d);
  });
});
