import { describe, expect, it } from 'vitest';
import { FrameCipher, KeyRing } from './crypto.js';
import { isWalError, WalErrorCode } from './errors.js';
import { decodeFileHeader, encodeFileHeader } from './file-header.js';
import { encodeRecordFrame } from './records.js';
import { FrameScanner } from './scanner.js';

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

function encryptedLog(): Buffer {
  const cipher = FrameCipher.forFile(ring, header);
  const plain = Buffer.alloc(64);
  const out = Buffer.alloc(512);
  let at = 0;
  for (let i = 1; i <= 3; i++) {
    const n = encodeRecordFrame(plain, 0, BigInt(i), { payload: Buffer.from(`secret ${i}`) });
    at += cipher.encryptFrame(out, at, plain.subarray(8, n));
  }
  return out.subarray(0, at);
}

describe('encrypted frames', () => {
  it('round-trip through the scanner with the file cipher', () => {
    const buf = encryptedLog();
    expect(buf.includes('secret')).toBe(false);
    const records = [
      ...new FrameScanner(buf, { cipher: FrameCipher.forFile(ring, header) }).records(),
    ];
    expect(records.map((r) => r.payload.toString())).toEqual(['secret 1', 'secret 2', 'secret 3']);
  });

  it('fail with WAL_DECRYPT_FAILED under another key and WAL_KEY_MISSING without one', () => {
    const buf = encryptedLog();
    const other = new KeyRing({ 1: Buffer.alloc(32, 2) }, 1);
    expect(() =>
      new FrameScanner(buf, { cipher: FrameCipher.forFile(other, header) }).nextRecord(),
    ).toThrow(expect.objectContaining({ code: WalErrorCode.DECRYPT_FAILED }));
    expect(() => new FrameScanner(buf).nextRecord()).toThrow(
      expect.objectContaining({ code: WalErrorCode.KEY_MISSING }),
    );
    try {
      FrameCipher.forFile(new KeyRing([[2, Buffer.alloc(32)]], 2), header);
      expect.unreachable();
    } catch (err) {
      expect(isWalError(err, WalErrorCode.KEY_MISSING)).toBe(true);
    }
  });
});

describe('KeyRing', () => {
  it('keeps old keys when rotating and rejects keys that are not 32 bytes', () => {
    const rotated = ring.rotate(2, KeyRing.generateKey());
    expect(rotated.currentKeyId).toBe(2);
    expect(rotated.has(1)).toBe(true);
    expect(ring.has(2)).toBe(false);
    expect(() => new KeyRing([[1, Buffer.alloc(16)]], 1)).toThrow(
      expect.objectContaining({ code: WalErrorCode.BAD_ARGUMENT }),
    );
    expect(() => new KeyRing([[1, Buffer.alloc(32)]], 2)).toThrow(
      expect.objectContaining({ code: WalErrorCode.BAD_ARGUMENT }),
    );
  });
});
