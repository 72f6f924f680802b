import { describe, expect, it } from 'vitest';
import { WalErrorCode } from '../errors/errors.js';
import { decodeFileHeader, encodeFileHeader } from '../files/file-header.js';
import { expectWalError } from '../testing/index.js';
import { BodyKind } from './constants.js';
import { FrameCipher, KeyRing } from './crypto.js';
import { sealFrame } from './frame.js';
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
    expectWalError(
      () => new FrameScanner(buf, { cipher: FrameCipher.forFile(other, header) }).nextRecord(),
      WalErrorCode.DECRYPT_FAILED,
    );
    expectWalError(() => new FrameScanner(buf).nextRecord(), WalErrorCode.KEY_MISSING);
    // Named: which file, where in it, and which key id was tried.
    const named = FrameCipher.forFile(other, header, '/log/00000000000000000001.wal');
    const error = expectWalError(
      () => new FrameScanner(buf, { cipher: named }).nextRecord(),
      WalErrorCode.DECRYPT_FAILED,
    );
    expect(error.message).toContain('/log/00000000000000000001.wal');
    expect(error.message).toContain("check that the key ring's key id 1 is the key that wrote");
    expect(error.details).toEqual({
      segment: '/log/00000000000000000001.wal',
      keyId: 1,
      offset: 0,
    });
    expectWalError(
      () => FrameCipher.forFile(new KeyRing([[2, Buffer.alloc(32)]], 2), header),
      WalErrorCode.KEY_MISSING,
    );
  });
});

describe('a frame changed after it was written, with its CRC made to match', () => {
  it('is WAL_DECRYPT_FAILED that blames the frame, not the key, once earlier frames decrypted', () => {
    const buf = Buffer.from(encryptedLog());
    const frames = [];
    const scan = new FrameScanner(buf, { passEncrypted: true });
    for (let f = scan.nextFrame(); f !== null; f = scan.nextFrame()) frames.push(f);
    const second = frames[1]!;
    const bodyLength = buf.readUInt32LE(second.offset + 4);
    buf[second.offset + 8 + 20]! ^= 0x01;
    sealFrame(buf, second.offset, bodyLength);

    const scanner = new FrameScanner(buf, { cipher: FrameCipher.forFile(ring, header, 'seg') });
    expect(scanner.nextRecord()?.payload.toString()).toBe('secret 1');
    const error = expectWalError(() => scanner.nextRecord(), WalErrorCode.DECRYPT_FAILED);
    expect(error.message).toContain('1 earlier frame(s) of this file decrypted with key id 1');
    expect(error.message).toContain('tampered with');
    expect(error.message).not.toContain('is the key that wrote');
  });
});

describe('passEncrypted: encrypted frames without the key', () => {
  it('returns each encrypted frame as it is from nextFrame(), CRC checked, not decrypted', () => {
    const buf = encryptedLog();
    const scanner = new FrameScanner(buf, { baseOffset: 64, passEncrypted: true });
    const frames = [];
    for (let f = scanner.nextFrame(); f !== null; f = scanner.nextFrame()) frames.push(f);
    expect(frames).toHaveLength(3);
    let at = 0;
    for (const frame of frames) {
      expect(frame.offset).toBe(64 + at);
      expect(frame.body[0]).toBe(BodyKind.ENCRYPTED);
      expect(frame.body).toEqual(buf.subarray(at + 8, at + 8 + buf.readUInt32LE(at + 4)));
      at += 8 + frame.body.length;
    }
    expect(scanner.stop).toMatchObject({ kind: 'eof', offset: 64 + buf.length });
  });

  it('passes them through advanceFrame() too', () => {
    const buf = encryptedLog();
    const scanner = new FrameScanner(buf, { passEncrypted: true });
    let frames = 0;
    while (scanner.advanceFrame()) {
      expect(scanner.frameBuffer[scanner.frameBodyStart]).toBe(BodyKind.ENCRYPTED);
      expect(scanner.frameBuffer).toBe(buf);
      frames++;
    }
    expect(frames).toBe(3);
    expect(scanner.stop?.kind).toBe('eof');
  });

  it('still finds damage in an encrypted frame: a flipped ciphertext byte is corrupt', () => {
    const buf = Buffer.from(encryptedLog());
    const second = 8 + buf.readUInt32LE(4);
    buf[second + 30]! ^= 0xff;
    const scanner = new FrameScanner(buf, { passEncrypted: true });
    expect(scanner.nextFrame()?.offset).toBe(0);
    expect(scanner.nextFrame()).toBeNull();
    expect(scanner.stop).toMatchObject({ kind: 'corrupt', offset: second });
  });

  it('reads no records: nextRecord() still needs the key', () => {
    expectWalError(
      () => new FrameScanner(encryptedLog(), { passEncrypted: true }).nextRecord(),
      WalErrorCode.KEY_MISSING,
    );
  });

  it('is refused beside a cipher, and must be a boolean', () => {
    const buf = encryptedLog();
    expectWalError(
      () =>
        new FrameScanner(buf, { passEncrypted: true, cipher: FrameCipher.forFile(ring, header) }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expectWalError(
      () => new FrameScanner(buf, { passEncrypted: 1 as unknown as boolean }),
      WalErrorCode.BAD_ARGUMENT,
    );
  });
});

describe('KeyRing', () => {
  it('keeps old keys when rotating and rejects keys that are not 32 bytes', () => {
    const rotated = ring.rotate(2, KeyRing.generateKey());
    expect(rotated.currentKeyId).toBe(2);
    expect(rotated.has(1)).toBe(true);
    expect(ring.has(2)).toBe(false);
    expectWalError(() => new KeyRing([[1, Buffer.alloc(16)]], 1), WalErrorCode.BAD_ARGUMENT);
    expectWalError(() => new KeyRing([[1, Buffer.alloc(32)]], 2), WalErrorCode.BAD_ARGUMENT);
  });

  it('hands out a copy from key(): wiping it changes neither the ring nor what it encrypts', () => {
    const bytes = KeyRing.generateKey();
    const mine = new KeyRing([[1, bytes]], 1);
    mine.key(1).fill(0);
    expect(mine.key(1)).toEqual(bytes);
    const out = Buffer.alloc(128);
    const plain = Buffer.alloc(64);
    const n = encodeRecordFrame(plain, 0, 1n, { payload: Buffer.from('after the wipe') });
    const size = FrameCipher.forFile(mine, header).encryptFrame(out, 0, plain.subarray(8, n));
    const original = FrameCipher.forFile(new KeyRing([[1, bytes]], 1), header);
    const records = [...new FrameScanner(out.subarray(0, size), { cipher: original }).records()];
    expect(records.map((r) => r.payload.toString())).toEqual(['after the wipe']);
  });

  it('refuses an id given twice, saying to pass each id once', () => {
    for (const keys of [
      [
        [1, KeyRing.generateKey()],
        [1, KeyRing.generateKey()],
      ],
      [
        [1, Buffer.alloc(32, 1)],
        ['1', Buffer.alloc(32, 1)],
      ],
    ]) {
      const error = expectWalError(
        () => new KeyRing(keys as [number, Uint8Array][], 1),
        WalErrorCode.BAD_ARGUMENT,
      );
      expect(error.message).toContain('key id 1 appears twice');
      expect(error.message).toContain('pass each id once');
    }
  });

  it('refuses ids written other than in plain decimal digits, saying how to write them', () => {
    for (const id of ['0x1', ' 1', '1 ', '1e0', '01', '+1', '-0', '1.0', '']) {
      const error = expectWalError(
        () => new KeyRing({ [id]: Buffer.alloc(32) } as Record<number, Uint8Array>, 1),
        WalErrorCode.BAD_ARGUMENT,
      );
      expect(error.message).toContain("plain decimal digits when it is a string ('1', not '01'");
    }
    expect(
      new KeyRing({ 0: Buffer.alloc(32), 4294967295: Buffer.alloc(32) }, 0).has(2 ** 32 - 1),
    ).toBe(true);
  });

  it('rotates to an id it holds only with the same bytes, which makes that key current again', () => {
    const k1 = KeyRing.generateKey();
    const twoKeys = new KeyRing([[1, k1]], 1).rotate(2, KeyRing.generateKey());
    const error = expectWalError(
      () => twoKeys.rotate(1, KeyRing.generateKey()),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toContain('rotate to a new id (e.g. ring.rotate(3, key))');
    expect(twoKeys.rotate(1, Buffer.from(k1)).currentKeyId).toBe(1);
    expectWalError(() => twoKeys.rotate(1, Buffer.alloc(31)), WalErrorCode.BAD_ARGUMENT);
  });

  it('refuses one key passed alone, saying how to pass it, and a Proxy of one', () => {
    for (const alone of [Buffer.alloc(32), new Proxy(Buffer.alloc(32), {})]) {
      expect(
        expectWalError(() => new KeyRing(alone as never, 1), WalErrorCode.BAD_ARGUMENT),
      ).toMatchObject({ message: expect.stringContaining('(one key: [[keyId, key]])') });
    }
  });
});
