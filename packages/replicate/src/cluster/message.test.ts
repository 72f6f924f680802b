import { compressionOption, crc32c, zstdImplementation } from '@walnut/codec';
import { expectWalError } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  COMPRESSED_MESSAGE_VERSION,
  decodeHeader,
  decodeMessage,
  encodeEpochMessage,
  encodeRecordsMessage,
  MESSAGE_OVERHEAD,
  MessageKind,
  messageCrc,
  messageSize,
  RESEED_FLAG,
  recordCost,
} from './message.js';

const recordArb = fc.record(
  {
    payload: fc.uint8Array({ maxLength: 300 }),
    meta: fc.uint8Array({ maxLength: 40 }),
    type: fc.integer({ min: 0, max: 0xffff }),
    tenantId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  },
  { requiredKeys: ['payload'] },
);

describe('replication messages', () => {
  it('round-trip records at their LSNs, with epoch, range and count', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 20 }),
        fc.bigInt({ min: 1n, max: 2n ** 40n }),
        fc.integer({ min: 0, max: 2 ** 32 - 1 }),
        (records, firstLsn, epoch) => {
          const bytes = encodeRecordsMessage(epoch, firstLsn, records);
          expect(bytes.length).toBe(messageSize(records));
          const cost = records.reduce((sum, r) => sum + recordCost(r), MESSAGE_OVERHEAD);
          expect(bytes.length).toBeLessThanOrEqual(cost);
          const message = decodeMessage(bytes, 'test');
          expect(message).toMatchObject({
            kind: MessageKind.RECORDS,
            epoch,
            firstLsn,
            lastLsn: firstLsn + BigInt(records.length - 1),
            count: records.length,
          });
          message.records.forEach((record, i) => {
            expect(record.lsn).toBe(firstLsn + BigInt(i));
            expect(Buffer.from(record.payload).equals(Buffer.from(records[i]!.payload))).toBe(true);
            expect(record.type).toBe(records[i]!.type ?? 0);
            expect(record.tenantId).toBe(records[i]!.tenantId);
          });
        },
      ),
    );
  });

  it('detect every flipped byte', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (records, at, mask) => {
          const bytes = encodeRecordsMessage(3, 10n, records);
          bytes[at % bytes.length]! ^= mask;
          expect(() => decodeMessage(bytes, 'test')).toThrow(
            expect.objectContaining({
              code: expect.stringMatching(/WAL_CORRUPT|WAL_UNSUPPORTED_FORMAT/),
            }),
          );
        },
      ),
    );
  });

  it('mark an epoch at a log position', () => {
    const marker = decodeHeader(encodeEpochMessage(7, 41n), 'test');
    expect(marker).toEqual({
      kind: MessageKind.EPOCH,
      epoch: 7,
      firstLsn: 42n,
      lastLsn: 41n,
      count: 0,
      flags: 0,
      prev: 0,
    });
    expect(decodeMessage(encodeEpochMessage(1, 0n), 'test').records).toEqual([]);
  });

  it('name the message they were published after by its CRC', () => {
    const marker = encodeEpochMessage(2, 10n, false, 0xdeadbeef);
    expect(decodeHeader(marker, 'test').prev).toBe(0xdeadbeef);
    const next = encodeRecordsMessage(
      2,
      11n,
      [{ payload: Buffer.from('x') }],
      undefined,
      messageCrc(marker),
    );
    expect(decodeMessage(next, 'test').prev).toBe(messageCrc(marker));
  });

  it('mark a re-seed: the stream went back to a position and the log follows again from there', () => {
    expect(decodeHeader(encodeEpochMessage(9, 41n, true), 'test')).toMatchObject({
      kind: MessageKind.EPOCH,
      epoch: 9,
      lastLsn: 41n,
      flags: RESEED_FLAG,
    });
  });

  it('refuse what Walnut did not write', () => {
    expect(() => decodeHeader(Buffer.from('hello'), 'seq 4')).toThrow(/seq 4/);
    expectWalError(() => decodeHeader(Buffer.alloc(64), 'seq 4'), 'WAL_CORRUPT');
  });
});

/** JSON-like payloads: what a compressing log is for. */
function events(count: number): { payload: Buffer }[] {
  return Array.from({ length: count }, (_, i) => ({
    payload: Buffer.from(
      JSON.stringify({ id: `evt_${i}`, action: i % 3 ? 'click' : 'view', user: { plan: 'free' } }),
    ),
  }));
}

describe.skipIf(zstdImplementation().encoder === null)(
  'compressed replication messages (a runtime whose node:zlib writes zstd)',
  () => {
    // Collected on every runtime, so asked for only where a test runs.
    const zstd = () => compressionOption('zstd');

    it('round-trip any records, never larger than the uncompressed message', () => {
      fc.assert(
        fc.property(
          fc.array(recordArb, { minLength: 1, maxLength: 20 }),
          fc.bigInt({ min: 1n, max: 2n ** 40n }),
          (records, firstLsn) => {
            const bytes = encodeRecordsMessage(5, firstLsn, records, zstd());
            expect(bytes.length).toBeLessThanOrEqual(messageSize(records));
            const message = decodeMessage(bytes, 'test');
            expect(message.records.map((r) => r.lsn)).toEqual(
              records.map((_, i) => firstLsn + BigInt(i)),
            );
            message.records.forEach((record, i) => {
              expect(Buffer.from(record.payload).equals(Buffer.from(records[i]!.payload))).toBe(
                true,
              );
              expect(record.meta === undefined ? undefined : Buffer.from(record.meta)).toEqual(
                records[i]!.meta === undefined ? undefined : Buffer.from(records[i]!.meta!),
              );
            });
          },
        ),
      );
    });

    it('are version 2 when the body shrank, and take a fraction of the bytes on JSON', () => {
      const records = events(200);
      const bytes = encodeRecordsMessage(1, 1n, records, zstd());
      expect(bytes[8]).toBe(COMPRESSED_MESSAGE_VERSION);
      expect(bytes.length).toBeLessThan(messageSize(records) / 3);
      expect(decodeMessage(bytes, 'test').records).toHaveLength(200);
    });

    it('stay version 1 when compressing does not shrink the body', () => {
      const records = [{ payload: Buffer.from('short') }];
      expect(encodeRecordsMessage(1, 1n, records, zstd())).toEqual(
        encodeRecordsMessage(1, 1n, records),
      );
    });

    it('detect every flipped byte', () => {
      const clean = encodeRecordsMessage(3, 10n, events(20), zstd());
      fc.assert(
        fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (at, mask) => {
          const bytes = Buffer.from(clean);
          bytes[at % bytes.length]! ^= mask;
          expect(() => decodeMessage(bytes, 'test')).toThrow(
            expect.objectContaining({
              code: expect.stringMatching(/WAL_CORRUPT|WAL_UNSUPPORTED_FORMAT/),
            }),
          );
        }),
      );
    });
  },
);

const COMPRESSED_MESSAGE_HEX = [
  '574e5250c89d54fb020100000200000007000000000000002e000000000000002800000000000000',
  'db79c885e400000006010000a809000028b52ffd60a8089506009247191b80b939deb037433c421a',
  '6c330c9a05bd496813295ecf3898d658538ded524953519136b64b25cdc444d9d82e95701117b7b1',
  '5d2aa94a83f2160597ed46e3ce31856449fc41ce38c5e2c719ee39477e40bc46497e1c0d1ac71d39',
  'e1fdb1ad1cb02db00d08332090a324c5012091742ab148a2d2496291844a3812460923314992d249',
  '622a49a493c4546a905a4a2d92443a95982449e9042496d7c8ca1cecb2a0100e65749cc890586431',
  'c111c41c47669912e952629024a50b90985c6438268bd4bc004c1d1cfb5fa69369ad7601',
].join('');

describe('a compressed message on the wire', () => {
  it('is read on every runtime, by the decoder it has (fzstd where node:zlib has no zstd)', () => {
    // Written by Node 22's node:zlib: a version 2 message of 40 JSON events at LSN 7, epoch 2.
    const bytes = Buffer.from(COMPRESSED_MESSAGE_HEX, 'hex');
    expect(bytes[8]).toBe(COMPRESSED_MESSAGE_VERSION);
    const message = decodeMessage(bytes, 'vector');
    expect(message).toMatchObject({ epoch: 2, firstLsn: 7n, lastLsn: 46n, count: 40 });
    expect(message.records.map((r) => Buffer.from(r.payload))).toEqual(
      events(40).map((r) => r.payload),
    );
  });

  it('of a version after 2 is refused by name, not called corrupt', () => {
    const bytes = Buffer.from(COMPRESSED_MESSAGE_HEX, 'hex');
    bytes[8] = 3;
    bytes.writeUInt32LE(crc32c(bytes.subarray(8)), 4);
    const error = expectWalError(() => decodeMessage(bytes, 'seq 9'), 'WAL_UNSUPPORTED_FORMAT');
    expect(error.message).toMatch(/seq 9 has format version 3; this build reads versions 1 and 2/);
  });

  it('is a records message: a version 2 marker is corrupt', () => {
    const bytes = encodeEpochMessage(4, 10n);
    bytes[8] = COMPRESSED_MESSAGE_VERSION;
    bytes.writeUInt32LE(crc32c(bytes.subarray(8)), 4);
    expectWalError(() => decodeHeader(bytes, 'seq 2'), 'WAL_CORRUPT');
  });
});
