import { describe, expect, it } from 'vitest';
import { crc32cRange } from '../crc/crc32c.js';
import { WalErrorCode } from '../errors/errors.js';
import { FILE_HEADER_SIZE } from '../format/constants.js';
import { expectWalError } from '../testing/index.js';
import {
  decodeFileHeader,
  encodeFileHeader,
  isTornHeader,
  parseSegmentFileName,
  segmentFileName,
  segmentFilesIn,
} from './file-header.js';

const salt = Buffer.from('00112233445566778899aabbccddeeff', 'hex');

describe('file header', () => {
  it('round-trips every field in 64 bytes', () => {
    const buf = encodeFileHeader({
      firstLsn: 42n,
      salt,
      cipher: 'aes-256-gcm',
      fileKind: 'segment',
      keyId: 7,
      createdAtMs: 1_700_000_000_000,
      logId: 0xfedcba9876543210n,
    });
    expect(buf.length).toBe(FILE_HEADER_SIZE);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('WLNT');
    expect(decodeFileHeader(buf)).toEqual({
      version: 2,
      headerLength: 64,
      firstLsn: 42n,
      salt,
      cipher: 'aes-256-gcm',
      fileKind: 'segment',
      keyId: 7,
      createdAtMs: 1_700_000_000_000,
      logId: 0xfedcba9876543210n,
      compressed: false,
    });
  });

  it('flags a file whose frames may be compressed in bit 0 of its flags; other bits stay unknown', () => {
    const input = { firstLsn: 1n, salt, cipher: 'none' as const, fileKind: 'segment' as const };
    const buf = encodeFileHeader({ ...input, keyId: 0, compressed: true });
    expect(buf.readUInt16LE(34)).toBe(1);
    expect(decodeFileHeader(buf).compressed).toBe(true);
    expect(decodeFileHeader(encodeFileHeader({ ...input, keyId: 0 })).compressed).toBe(false);
    buf.writeUInt16LE(3, 34);
    buf.writeUInt32LE(crc32cRange(buf, 0, 60, 0), 60);
    const err = expectWalError(() => decodeFileHeader(buf), WalErrorCode.UNSUPPORTED_FORMAT);
    expect(err.message).toContain('flags 0x3');
  });

  it('reads and writes version 1, whose log id bytes are reserved zeros', () => {
    const v1 = { firstLsn: 1n, salt, cipher: 'none' as const, fileKind: 'segment' as const };
    const buf = encodeFileHeader({ ...v1, keyId: 0, version: 1 });
    expect(decodeFileHeader(buf)).toMatchObject({ version: 1, logId: 0n });
    expectWalError(
      () => encodeFileHeader({ ...v1, keyId: 0, version: 1, logId: 5n }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeFileHeader({ ...v1, keyId: 0, version: 3 }),
      WalErrorCode.BAD_ARGUMENT,
    );
    // A version 1 header with bytes 48‥55 set (and a matching CRC) is not one this build wrote.
    const withId = encodeFileHeader({ ...v1, keyId: 0, logId: 5n });
    withId.writeUInt16LE(1, 4);
    withId.writeUInt32LE(crc32cRange(withId, 0, 60, 0), 60);
    expectWalError(() => decodeFileHeader(withId), WalErrorCode.UNSUPPORTED_FORMAT);
    // Version 2's own reserved bytes, 56‥59, stay zero.
    const reserved = encodeFileHeader({ ...v1, keyId: 0 });
    reserved[57] = 1;
    reserved.writeUInt32LE(crc32cRange(reserved, 0, 60, 0), 60);
    expectWalError(() => decodeFileHeader(reserved), WalErrorCode.UNSUPPORTED_FORMAT);
  });

  it('reports damage as WAL_CORRUPT and another version (bytes 4‥5) as WAL_UNSUPPORTED_FORMAT', () => {
    const good = encodeFileHeader({
      firstLsn: 1n,
      salt,
      cipher: 'none',
      fileKind: 'core',
      keyId: 0,
    });
    expectWalError(() => decodeFileHeader(good.subarray(0, 63)), WalErrorCode.CORRUPT);
    for (let i = 0; i < 64; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x01;
      // Bytes 4-5 are the version: another one is a format this build does not read.
      const code = i === 4 || i === 5 ? WalErrorCode.UNSUPPORTED_FORMAT : WalErrorCode.CORRUPT;
      expectWalError(() => decodeFileHeader(bad, 'x.wal'), code);
    }
  });

  it('rejects bad fields with WAL_BAD_ARGUMENT', () => {
    const ok = {
      firstLsn: 1n,
      salt,
      cipher: 'none' as const,
      fileKind: 'segment' as const,
      keyId: 0,
    };
    expectWalError(
      () => encodeFileHeader({ ...ok, salt: Buffer.alloc(15) }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(() => encodeFileHeader({ ...ok, firstLsn: -1n }), WalErrorCode.BAD_ARGUMENT);
    expectWalError(() => encodeFileHeader({ ...ok, keyId: 3 }), WalErrorCode.BAD_ARGUMENT);
    expectWalError(
      () => encodeFileHeader({ ...ok, cipher: 'rot13' as 'none' }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => encodeFileHeader({ ...ok, fileKind: 'x' as 'core' }),
      WalErrorCode.BAD_ARGUMENT,
    );
  });
});

describe('a file shorter than a header', () => {
  const header = encodeFileHeader({
    firstLsn: 1n,
    salt: Buffer.alloc(16, 1),
    cipher: 'none',
    fileKind: 'portable',
    keyId: 0,
  });

  it('is a torn header when it holds zeros or the start of one a crash cut short', () => {
    for (const length of [1, 3, 4, 40, 63]) {
      expect(isTornHeader(header.subarray(0, length))).toBe(true);
      expect(isTornHeader(Buffer.alloc(length))).toBe(true);
    }
  });

  it("is another program's file otherwise, and a whole header is not torn", () => {
    expect(isTornHeader(Buffer.from('x'))).toBe(false);
    expect(isTornHeader(Buffer.from('WLN!'))).toBe(false);
    expect(isTornHeader(Buffer.from('hello, this is a text file of forty b'))).toBe(false);
    expect(isTornHeader(header)).toBe(false);
  });
});

describe('segment file names', () => {
  it('are 20 zero-padded digits that sort like the LSNs', () => {
    expect(segmentFileName(1n)).toBe('00000000000000000001.wal');
    expect(segmentFileName((1n << 64n) - 1n)).toBe('18446744073709551615.wal');
    expect(parseSegmentFileName('00000000000000000042.wal')).toBe(42n);
  });

  it('parse to null when the name is not a segment', () => {
    expect(parseSegmentFileName('42.wal')).toBeNull();
    expect(parseSegmentFileName('00000000000000000042.wal.tmp')).toBeNull();
    expect(parseSegmentFileName('99999999999999999999.wal')).toBeNull();
  });

  it('pick the segments out of a directory listing, in LSN order', () => {
    const names = [
      segmentFileName(300n),
      'LOCK',
      'FLOOR',
      `${segmentFileName(400n)}.tmp`,
      segmentFileName(20n),
      segmentFileName(1n),
    ];
    expect(segmentFilesIn(names)).toEqual([
      { name: segmentFileName(1n), firstLsn: 1n },
      { name: segmentFileName(20n), firstLsn: 20n },
      { name: segmentFileName(300n), firstLsn: 300n },
    ]);
  });
});
