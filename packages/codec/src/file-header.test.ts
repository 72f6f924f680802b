import { describe, expect, it } from 'vitest';
import { codeOf } from '../test/error-code.js';
import { FILE_HEADER_SIZE } from './constants.js';
import { WalErrorCode } from './errors.js';
import {
  decodeFileHeader,
  encodeFileHeader,
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
    });
    expect(buf.length).toBe(FILE_HEADER_SIZE);
    expect(buf.subarray(0, 4).toString('latin1')).toBe('WLNT');
    expect(decodeFileHeader(buf)).toEqual({
      version: 1,
      headerLength: 64,
      firstLsn: 42n,
      salt,
      cipher: 'aes-256-gcm',
      fileKind: 'segment',
      keyId: 7,
      createdAtMs: 1_700_000_000_000,
    });
  });

  it('reports damage as WAL_CORRUPT and another version (bytes 4‥5) as WAL_UNSUPPORTED_FORMAT', () => {
    const good = encodeFileHeader({
      firstLsn: 1n,
      salt,
      cipher: 'none',
      fileKind: 'core',
      keyId: 0,
    });
    expect(codeOf(() => decodeFileHeader(good.subarray(0, 63)))).toBe(WalErrorCode.CORRUPT);
    for (let i = 0; i < 64; i++) {
      const bad = Buffer.from(good);
      bad[i]! ^= 0x01;
      const code = codeOf(() => decodeFileHeader(bad, 'x.wal'));
      if (i === 4 || i === 5) expect(code).toBe(WalErrorCode.UNSUPPORTED_FORMAT);
      else expect(code).toBe(WalErrorCode.CORRUPT);
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
    expect(codeOf(() => encodeFileHeader({ ...ok, salt: Buffer.alloc(15) }))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(codeOf(() => encodeFileHeader({ ...ok, firstLsn: -1n }))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(codeOf(() => encodeFileHeader({ ...ok, keyId: 3 }))).toBe(WalErrorCode.BAD_ARGUMENT);
    expect(codeOf(() => encodeFileHeader({ ...ok, cipher: 'rot13' as 'none' }))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(codeOf(() => encodeFileHeader({ ...ok, fileKind: 'x' as 'core' }))).toBe(
      WalErrorCode.BAD_ARGUMENT,
    );
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
