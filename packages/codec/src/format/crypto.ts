import {
  createCipheriv,
  createDecipheriv,
  hkdfSync,
  randomBytes,
  timingSafeEqual,
} from 'node:crypto';
import {
  badArgument,
  frameDoesNotFit,
  invalidArgument,
  WalError,
  WalErrorCode,
} from '../errors/errors.js';
import type { FileHeader } from '../files/file-header.js';
import { checkBytes, checkUint, tooLarge } from '../values/validate.js';
import { BodyKind, FRAME_HEADER_SIZE, MAX_FRAME_BODY } from './constants.js';
import { sealFrame } from './frame.js';

const KEY_SIZE = 32;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
/** kind + 3 reserved + nonce. */
const ENCRYPTED_PREFIX = 16;
const HKDF_INFO = Buffer.from('walnut v1 file key', 'utf8');

/** A key id written as text (an object's key) must be its plain decimal digits. */
const CANONICAL_ID = /^(0|[1-9][0-9]*)$/;

/** The ring's own bytes of a key, for the ciphers of this module; never handed to a caller. */
let ringKey: (ring: KeyRing, keyId: number) => Buffer;

/**
 * Master keys by id. Immutable: `rotate` returns a new ring, and `key` hands out a copy. Its
 * fields, like FrameCipher's, stay `#private` against the project's `private` style: key
 * material must not show in `util.inspect`, `console.log` or a test's diff of an object that
 * holds a ring. One id names one key, as a segment names its key only by id: two keys under
 * one id would leave segments that no ring reads together.
 */
export class KeyRing {
  readonly currentKeyId: number;
  readonly #keys: Map<number, Buffer>;

  constructor(
    keys: Iterable<[number, Uint8Array]> | Record<number, Uint8Array>,
    currentKeyId: number,
  ) {
    if (typeof keys !== 'object' || keys === null || keys instanceof Uint8Array) {
      // One key passed alone is a Uint8Array (or a Proxy of one, which cannot be iterated).
      badArgument(
        'keys',
        'an iterable of [keyId, key] or an object keyed by id (one key: [[keyId, key]])',
        keys,
      );
    }
    const entries: Iterable<[number | string, Uint8Array]> =
      Symbol.iterator in keys
        ? (keys as Iterable<[number, Uint8Array]>)
        : Object.entries(keys as Record<number, Uint8Array>);
    this.#keys = new Map();
    for (const entry of entries) {
      if (!Array.isArray(entry)) badArgument('keys entry', 'a [keyId, key] pair', entry);
      const id = keyIdOf(entry[0]);
      checkKey(id, entry[1]);
      if (this.#keys.has(id)) {
        invalidArgument(
          `key id ${id} appears twice in the keys; a ring holds one key per id: pass each id once, and give a new key a new id`,
        );
      }
      this.#keys.set(id, Buffer.from(entry[1]));
    }
    checkUint('currentKeyId', currentKeyId, 0xffffffff);
    if (!this.#keys.has(currentKeyId))
      badArgument('currentKeyId', 'the id of a key in the ring', currentKeyId);
    this.currentKeyId = currentKeyId;
  }

  has(keyId: number): boolean {
    return this.#keys.has(keyId);
  }

  /**
   * A copy of the key with this id (writing to it changes nothing in the ring).
   * WAL_KEY_MISSING when the ring does not hold it.
   */
  key(keyId: number): Buffer {
    return Buffer.from(ringKey(this, keyId));
  }

  /**
   * A new ring holding every key of this one plus `key` as `keyId`, which becomes current.
   * An id the ring holds already takes only the same bytes (making that key current again);
   * other bytes are WAL_BAD_ARGUMENT, as a new key needs a new id.
   */
  rotate(keyId: number, key: Uint8Array): KeyRing {
    const held = this.#keys.get(keyId);
    if (held === undefined) return new KeyRing([...this.#keys, [keyId, key]], keyId);
    checkKey(keyId, key);
    if (!timingSafeEqual(held, key)) {
      const free = Math.max(...this.#keys.keys()) + 1;
      invalidArgument(
        `the ring holds key id ${keyId} already, with other bytes; rotate to a new id${free <= 0xffffffff ? ` (e.g. ring.rotate(${free}, key))` : ''}: segments name their key only by id, so replacing the key of an id would leave the segments written under the old key unreadable`,
      );
    }
    return new KeyRing(this.#keys, keyId);
  }

  /** 32 fresh random bytes, suitable as a ring key. */
  static generateKey(): Buffer {
    return randomBytes(KEY_SIZE);
  }

  static {
    ringKey = (ring, keyId) => {
      const key = ring.#keys.get(keyId);
      if (key === undefined)
        throw new WalError(
          WalErrorCode.KEY_MISSING,
          `the key ring has no key ${keyId}; add the key that encrypted this file to the ring`,
          { details: { keyId } },
        );
      return key;
    };
  }
}

/** A key id as a number: a number, or (an object's key) its plain decimal digits. */
function keyIdOf(id: unknown): number {
  if (typeof id === 'string' && !CANONICAL_ID.test(id)) {
    badArgument(
      'keyId',
      "an integer in 0..4294967295, written in plain decimal digits when it is a string ('1', not '01', ' 1', '1e0' or '0x1')",
      id,
    );
  }
  const n = typeof id === 'string' ? Number(id) : id;
  checkUint('keyId', n, 0xffffffff);
  return n;
}

function checkKey(keyId: number, key: unknown): asserts key is Uint8Array {
  checkBytes(`key ${keyId}`, key);
  if (key.length !== KEY_SIZE) badArgument(`key ${keyId}`, '32 bytes (AES-256)', key);
}

let createWithFixedNonce: (
  ring: KeyRing,
  header: FileHeader,
  prefix: Buffer,
  counter: number,
) => FrameCipher;

/**
 * Test vectors only (not exported from the package): a cipher whose nonces are the
 * 4-byte `prefix` followed by a u64 counter starting at `counter`. Never use it to write
 * a real file: a fixed nonce under one key breaks GCM.
 */
export function frameCipherWithFixedNonce(
  ring: KeyRing,
  header: FileHeader,
  prefix: Buffer,
  counter: number,
): FrameCipher {
  return createWithFixedNonce(ring, header, prefix, counter);
}

/**
 * Encrypts and decrypts frame bodies of one file with AES-256-GCM under a per-file key
 * derived by HKDF-SHA256 from the ring key and the file's salt. Nonces are a random
 * 4-byte prefix plus a per-cipher counter, so one cipher must be the only writer of its
 * file (see FORMAT.md, "Encrypted body").
 */
export class FrameCipher {
  readonly #key: Buffer;
  readonly #noncePrefix: Buffer;
  #counter: number;
  readonly #nonce = Buffer.alloc(NONCE_SIZE);
  readonly #aad = Buffer.alloc(4 + ENCRYPTED_PREFIX);
  /** What a failed decryption names: the file, when the caller gave it, and its key id. */
  readonly #source: { file: string | undefined; keyId: number };
  /** Frames this cipher decrypted: once one did, the key is right and a failure is damage. */
  #decrypted = 0;

  private constructor(
    key: Buffer,
    noncePrefix: Buffer,
    counter: number,
    source: { file: string | undefined; keyId: number },
  ) {
    this.#key = key;
    this.#noncePrefix = noncePrefix;
    this.#counter = counter;
    this.#source = source;
  }

  /**
   * The cipher for the file with this header. WAL_KEY_MISSING if the ring lacks its key.
   * `file` (its path) is named by WAL_DECRYPT_FAILED.
   */
  static forFile(ring: KeyRing, header: FileHeader, file?: string): FrameCipher {
    return FrameCipher.#create(ring, header, randomBytes(4), 0, file);
  }

  static #create(
    ring: KeyRing,
    header: FileHeader,
    prefix: Buffer,
    counter: number,
    file?: string,
  ): FrameCipher {
    if (!(ring instanceof KeyRing)) badArgument('ring', 'a KeyRing', ring);
    if (typeof header !== 'object' || header === null)
      badArgument('header', 'a FileHeader', header);
    if (header.cipher !== 'aes-256-gcm')
      badArgument('header.cipher', "'aes-256-gcm' for an encrypted file", header.cipher);
    const ikm = ringKey(ring, header.keyId);
    const key = Buffer.from(hkdfSync('sha256', ikm, header.salt, HKDF_INFO, KEY_SIZE));
    return new FrameCipher(key, prefix, counter, { file, keyId: header.keyId });
  }

  static {
    createWithFixedNonce = (ring, header, prefix, counter) =>
      FrameCipher.#create(ring, header, prefix, counter);
  }

  /** Bytes of the encrypted frame for a plaintext body of this length. */
  encryptedFrameSize(plainBodyLength: number): number {
    return FRAME_HEADER_SIZE + ENCRYPTED_PREFIX + plainBodyLength + TAG_SIZE;
  }

  /** Writes an encrypted frame holding `plainBody` at `offset`; returns its size. */
  encryptFrame(target: Buffer, offset: number, plainBody: Uint8Array): number {
    checkBytes('plainBody', plainBody);
    const kind = plainBody[0];
    // A compressed body is encrypted as it is: encryption applies to the compressed bytes.
    if (
      kind === undefined ||
      ((kind < BodyKind.RECORD || kind > BodyKind.PADDING) && kind !== BodyKind.COMPRESSED)
    )
      badArgument('plainBody', 'a frame body of kind 1..4 or 6 (compressed)', plainBody);
    const bodyLength = ENCRYPTED_PREFIX + plainBody.length + TAG_SIZE;
    if (bodyLength > MAX_FRAME_BODY)
      tooLarge('the encrypted frame body', bodyLength, MAX_FRAME_BODY, 'split the record');
    const size = FRAME_HEADER_SIZE + bodyLength;
    if (!Number.isInteger(offset) || offset < 0 || offset + size > target.length)
      frameDoesNotFit(size, offset, target.length);
    const nonce = this.#nextNonce();
    const body = offset + FRAME_HEADER_SIZE;
    target.writeUInt32LE(bodyLength, offset + 4);
    target[body] = BodyKind.ENCRYPTED;
    target[body + 1] = 0;
    target[body + 2] = 0;
    target[body + 3] = 0;
    nonce.copy(target, body + 4);
    const cipher = createCipheriv('aes-256-gcm', this.#key, nonce);
    cipher.setAAD(target.subarray(offset + 4, body + ENCRYPTED_PREFIX));
    let pos = body + ENCRYPTED_PREFIX;
    pos += cipher.update(plainBody).copy(target, pos);
    pos += cipher.final().copy(target, pos);
    cipher.getAuthTag().copy(target, pos);
    sealFrame(target, offset, bodyLength);
    return size;
  }

  /**
   * Decrypts an encrypted frame body (kind 0x05) whose frame `len` field is `frameLength`
   * and returns the plaintext body. WAL_DECRYPT_FAILED for a wrong key or tampering.
   */
  decryptBody(frameBody: Buffer, frameLength: number): Buffer {
    if (frameBody.length < ENCRYPTED_PREFIX + 1 + TAG_SIZE) this.#decryptFailed('body too short');
    if (frameBody[0] !== BodyKind.ENCRYPTED) {
      this.#decryptFailed(`body kind ${frameBody[0]} is not encrypted`);
    }
    if (frameBody[1] !== 0 || frameBody[2] !== 0 || frameBody[3] !== 0) {
      this.#decryptFailed('reserved bytes set');
    }
    this.#aad.writeUInt32LE(frameLength >>> 0, 0);
    frameBody.copy(this.#aad, 4, 0, ENCRYPTED_PREFIX);
    const tagAt = frameBody.length - TAG_SIZE;
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        this.#key,
        frameBody.subarray(4, ENCRYPTED_PREFIX),
      );
      decipher.setAAD(this.#aad);
      decipher.setAuthTag(frameBody.subarray(tagAt));
      const head = decipher.update(frameBody.subarray(ENCRYPTED_PREFIX, tagAt));
      const tail = decipher.final();
      this.#decrypted++;
      return tail.length === 0 ? head : Buffer.concat([head, tail]);
    } catch (cause) {
      return this.#decryptFailed(`authentication failed (${(cause as Error).message})`);
    }
  }

  #decryptFailed(why: string): never {
    const { file, keyId } = this.#source;
    const what = `cannot decrypt a frame${file === undefined ? '' : ` of ${file}`}: ${why}`;
    // A frame's CRC is checked before it is decrypted, so after frames of the same file
    // decrypted with this key, a failure is a frame rewritten with a valid CRC, not the key.
    const advice =
      this.#decrypted === 0
        ? `check that the key ring's key id ${keyId} is the key that wrote this file`
        : `${this.#decrypted} earlier frame(s) of this file decrypted with key id ${keyId}, so the key is right and this frame was changed after Walnut wrote it (its checksum matches, so not by a torn write or bit rot): treat the file as tampered with and restore it from a replica or backup`;
    throw new WalError(WalErrorCode.DECRYPT_FAILED, `${what}; ${advice}`, {
      details: file === undefined ? { keyId } : { segment: file, keyId },
    });
  }

  #nextNonce(): Buffer {
    const n = this.#nonce;
    this.#noncePrefix.copy(n, 0, 0, 4);
    const c = this.#counter++;
    n.writeUInt32LE(c >>> 0, 4);
    n.writeUInt32LE(Math.floor(c / 0x100000000), 8);
    return n;
  }
}
