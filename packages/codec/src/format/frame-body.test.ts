import { describe, expect, it } from 'vitest';
import { WalErrorCode } from '../errors/errors.js';
import { decodeFileHeader, encodeFileHeader } from '../files/file-header.js';
import { expectWalError } from '../testing/index.js';
import { encodeCoreEntryFrame } from './core-entry.js';
import { FrameCipher, KeyRing } from './crypto.js';
import { encodeDurableMark } from './durable-mark.js';
import { frameLsns, frameRecordCount, frameRecords } from './frame-body.js';
import { encodeBatchFrame, encodeRecordFrame, type WalRecord } from './records.js';

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

/** The body (kind byte first) of the frame `write` puts at offset 0. */
function bodyOf(write: (target: Buffer) => number): Buffer {
  const frame = Buffer.alloc(4096);
  return frame.subarray(8, write(frame));
}

const record = bodyOf((t) => encodeRecordFrame(t, 0, 7n, { payload: Buffer.from('one'), type: 3 }));
const batch = bodyOf((t) =>
  encodeBatchFrame(t, 0, 10n, [{ payload: Buffer.from('a') }, { payload: Buffer.from('b') }]),
);

function read(body: Buffer, options?: Parameters<typeof frameRecords>[4]) {
  const out: WalRecord[] = [];
  const content = frameRecords(body, 0, body.length, out, options);
  return { content, records: out.map((r) => [r.lsn, r.type, Buffer.from(r.payload).toString()]) };
}

describe('frameRecords', () => {
  it('turns a record body and a batch body into their records, in LSN order', () => {
    expect(read(record)).toEqual({ content: 'records', records: [[7n, 3, 'one']] });
    expect(read(batch)).toEqual({
      content: 'records',
      records: [
        [10n, 0, 'a'],
        [11n, 0, 'b'],
      ],
    });
  });

  it('finds nothing to read in padding, a durable mark among it', () => {
    const mark = bodyOf((t) => encodeDurableMark(t, 0, 4096));
    expect(read(mark)).toEqual({ content: 'padding', records: [] });
  });

  it('decrypts an encrypted body with the cipher, and without one says it is encrypted', () => {
    const cipher = FrameCipher.forFile(ring, header);
    const sealed = bodyOf((t) => cipher.encryptFrame(t, 0, batch));
    expect(read(sealed, { cipher })).toEqual(read(batch));
    expect(read(sealed)).toEqual({ content: 'encrypted', records: [] });
  });

  it('calls plaintext records in an encrypted file, and a per-core entry, corrupt', () => {
    const cipher = FrameCipher.forFile(ring, header);
    expectWalError(() => read(record, { cipher }), WalErrorCode.CORRUPT);
    const entry = bodyOf((t) =>
      encodeCoreEntryFrame(t, 0, {
        op: 'delete',
        key: Buffer.from('k'),
        coreId: 1,
        epoch: 1n,
        sequence: 1n,
        timestampNs: 1n,
      }),
    );
    expectWalError(() => read(entry), WalErrorCode.CORRUPT);
  });
});

describe("a frame's LSNs", () => {
  it('are read from the fixed header of a record or batch body', () => {
    expect(frameLsns(record, 0, record.length)).toEqual({ first: 7n, last: 7n, count: 1 });
    expect(frameLsns(batch, 0, batch.length)).toEqual({ first: 10n, last: 11n, count: 2 });
  });

  it('are none for padding or a body too short for its header', () => {
    const mark = bodyOf((t) => encodeDurableMark(t, 0, 4096));
    expect(frameLsns(mark, 0, mark.length)).toBeNull();
    expect(frameRecordCount(record, 0, 11)).toBe(0);
    expect(frameRecordCount(batch, 0, 15)).toBe(0);
  });
});
