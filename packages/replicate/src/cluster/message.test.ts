import { expectWalError } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeHeader,
  decodeMessage,
  encodeEpochMessage,
  encodeRecordsMessage,
  MESSAGE_OVERHEAD,
  MessageKind,
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
    });
    expect(decodeMessage(encodeEpochMessage(1, 0n), 'test').records).toEqual([]);
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
