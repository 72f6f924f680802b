import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { readHex } from '../../test/vector-meaning.js';
import { WalErrorCode } from '../errors/errors.js';
import { decodeFileHeader, encodeFileHeader } from '../files/file-header.js';
import { compressedLog, compressedLogRecords, expectWalError } from '../testing/index.js';
import { compressBody, compressionOption, zstdImplementation } from './compression.js';
import { FrameCipher, KeyRing } from './crypto.js';
import { encodeFrame, sealFrame } from './frame.js';
import { frameRecords } from './frame-body.js';
import { encodeBatchFrame, type WalRecord } from './records.js';
import { FrameScanner } from './scanner.js';

const canWrite = zstdImplementation().encoder !== null;
/** A batch frame of the golden vector's four JSON events, compressed on Node 22 by node:zlib. */
const vector = () => readHex('compressed-batch.hex');

function payloads(records: WalRecord[]): string[] {
  return records.map((r) => Buffer.from(r.payload).toString());
}

function jsonBatchBody(count: number): Buffer {
  const out = Buffer.alloc(64 * 1024);
  const inputs = Array.from({ length: count }, (_, i) => ({
    payload: Buffer.from(JSON.stringify({ id: `evt_${i}`, kind: 'click', user: { id: i % 7 } })),
  }));
  return Buffer.from(out.subarray(8, encodeBatchFrame(out, 0, 1n, inputs)));
}

function frameOf(body: Uint8Array): Buffer {
  const out = Buffer.alloc(body.length + 8);
  encodeFrame(out, 0, body);
  return out;
}

describe('compressed frames', () => {
  it(`read in the golden log a Wal wrote with compression on (decoder ${zstdImplementation().decoder})`, () => {
    const { bytes } = compressedLog();
    const header = decodeFileHeader(bytes);
    expect(header.compressed).toBe(true);
    const records = [...new FrameScanner(bytes, { start: 64, file: header }).records()];
    const expected = compressedLogRecords();
    expect(records.map((r) => r.lsn)).toEqual(expected.map((r) => r.lsn));
    expect(payloads(records)).toEqual(payloads(expected as WalRecord[]));
    expect(records[20]!.meta?.toString()).toBe('meta of 21');
    expect(records[22]!.tenantId).toBe(7n);
  });

  it(`read on every runtime: the vector written by Node 22 reads here (decoder ${zstdImplementation().decoder})`, () => {
    const records = [...new FrameScanner(vector()).records()];
    expect(records.map((r) => r.lsn)).toEqual([1n, 2n, 3n, 4n]);
    expect(JSON.parse(payloads(records)[3]!)).toMatchObject({ action: 'logout' });
    const out: WalRecord[] = [];
    const body = vector().subarray(8);
    expect(frameRecords(body, 0, body.length, out)).toBe('records');
    expect(payloads(out)).toEqual(payloads(records));
  });

  it('hand out payloads the caller owns: not views of the scanned bytes', () => {
    // Not the same ArrayBuffer is not the test: small Buffers share Node's pool (on Node 24
    // the decompressed bytes and the vector did). What is written into one is not in the other.
    const bytes = vector();
    const before = Buffer.from(bytes);
    const record = new FrameScanner(bytes).nextRecord()!;
    record.payload.fill(0xee);
    expect(bytes.equals(before)).toBe(true);
  });

  it('with an unknown codec, say so by name as WAL_UNSUPPORTED_FORMAT, never WAL_CORRUPT', () => {
    const bytes = vector();
    bytes[8 + 1] = 9;
    sealFrame(bytes, 0, bytes.length - 8);
    const error = expectWalError(
      () => new FrameScanner(bytes).nextRecord(),
      WalErrorCode.UNSUPPORTED_FORMAT,
    );
    expect(error.message).toContain('codec 9');
    expect(error.details).toMatchObject({ codec: 9, offset: 0 });
  });

  it('name an unknown codec even when the body is no longer than its fixed part', () => {
    const body = Buffer.from([6, 9, 0, 0, 1, 0, 0, 0]);
    expectWalError(
      () => new FrameScanner(frameOf(body)).nextRecord(),
      WalErrorCode.UNSUPPORTED_FORMAT,
    );
    const zstdWithoutBytes = new FrameScanner(frameOf(Buffer.from([6, 1, 0, 0, 1, 0, 0, 0])));
    expect(zstdWithoutBytes.nextRecord()).toBeNull();
    expect(zstdWithoutBytes.stop).toMatchObject({ kind: 'corrupt', offset: 0 });
  });

  it('whose CRC matches but whose zstd bytes are damaged stop the scan as corrupt', () => {
    const bytes = vector();
    bytes[bytes.length - 3]! ^= 0xff;
    sealFrame(bytes, 0, bytes.length - 8);
    const scanner = new FrameScanner(bytes);
    expect(scanner.nextRecord()).toBeNull();
    expect(scanner.stop).toMatchObject({ kind: 'corrupt', offset: 0 });
  });

  it('cut short by a crash read as torn', () => {
    const bytes = vector();
    const scanner = new FrameScanner(bytes.subarray(0, bytes.length - 20));
    expect(scanner.nextRecord()).toBeNull();
    expect(scanner.stop?.kind).toBe('torn');
  });

  it.skipIf(!canWrite)('round-trip, and a body that does not shrink is left as it is', () => {
    const body = jsonBatchBody(50);
    const packed = compressBody(body, compressionOption('zstd'))!;
    expect(packed.length).toBeLessThan(body.length / 3);
    const records = [...new FrameScanner(frameOf(packed)).records()];
    expect(payloads(records)).toEqual(payloads([...new FrameScanner(frameOf(body)).records()]));
    // Hash output: bytes zstd cannot shrink.
    const random = Buffer.concat(
      Array.from({ length: 20 }, (_, i) => createHash('sha256').update(String(i)).digest()),
    );
    const frame = Buffer.alloc(700);
    const noise = frame.subarray(8, encodeBatchFrame(frame, 0, 1n, [{ payload: random }]));
    expect(compressBody(noise, compressionOption('zstd', 19))).toBeNull();
  });

  it.skipIf(!canWrite)('are encrypted after compression, and read back through the cipher', () => {
    const ring = new KeyRing([[1, Buffer.alloc(32, 1)]], 1);
    const header = decodeFileHeader(
      encodeFileHeader({
        firstLsn: 1n,
        salt: Buffer.alloc(16, 9),
        cipher: 'aes-256-gcm',
        fileKind: 'segment',
        keyId: 1,
      }),
    );
    const cipher = FrameCipher.forFile(ring, header);
    const packed = compressBody(jsonBatchBody(20), compressionOption('zstd'))!;
    const out = Buffer.alloc(packed.length + 64);
    const n = cipher.encryptFrame(out, 0, packed);
    const records = [...new FrameScanner(out.subarray(0, n), { cipher }).records()];
    expect(records).toHaveLength(20);
  });
});

describe('compressionOption', () => {
  it('refuses an unknown codec or level with WAL_BAD_ARGUMENT, listing what is accepted', () => {
    const unknown = expectWalError(() => compressionOption('lz4'), WalErrorCode.BAD_ARGUMENT);
    expect(unknown.message).toContain("'zstd'");
    for (const level of [0, 20, 2.5, '3']) {
      const bad = expectWalError(() => compressionOption('zstd', level), WalErrorCode.BAD_ARGUMENT);
      expect(bad.message).toContain('1..19');
    }
  });

  it.skipIf(canWrite)(
    'on a runtime without zstd in node:zlib, refuses to write, saying why',
    () => {
      const error = expectWalError(
        () => compressionOption('zstd'),
        WalErrorCode.BACKEND_UNAVAILABLE,
      );
      expect(error.message).toContain('Node 22.15');
    },
  );

  it.skipIf(!canWrite)('takes zstd at its default level 1, or a level in 1..19', () => {
    expect(compressionOption('zstd')).toEqual({ codec: 'zstd', level: 1 });
    expect(compressionOption('zstd', 19)).toEqual({ codec: 'zstd', level: 19 });
  });
});
