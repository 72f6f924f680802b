import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLog, log, testCipher } from '../../test/arbitraries.js';
import {
  agreeOnEveryByteChange,
  agreeOnEveryTruncation,
  agreeOnRandomBytes,
} from '../../test/scan-agreement.js';
import { isWalError, WalErrorCode } from '../errors/errors.js';
import { encodeFrame } from './frame.js';
import { encodeBatchFrame, encodeRecordFrame, type WalRecord } from './records.js';
import { FrameScanner, type FrameScannerOptions } from './scanner.js';

/** What a scan saw, or the WalError code it threw. */
type Outcome = { records: WalRecord[]; stop: unknown; offset: number } | { threw: string };

function outcome(scan: (scanner: FrameScanner, records: WalRecord[]) => void) {
  return (buf: Uint8Array, options?: FrameScannerOptions): Outcome => {
    const scanner = new FrameScanner(buf, options);
    const records: WalRecord[] = [];
    try {
      scan(scanner, records);
    } catch (err) {
      if (!isWalError(err)) throw err;
      return { threw: err.code };
    }
    return { records, stop: scanner.stop, offset: scanner.offset };
  };
}

const withNextRecord = outcome((scanner, records) => {
  for (let r = scanner.nextRecord(); r !== null; r = scanner.nextRecord()) records.push(r);
});

/** Scans with advance(), checking that the cheap accessors agree with record(). */
const withAdvance = outcome((scanner, records) => {
  while (scanner.advance()) {
    const rec = scanner.record();
    expect(scanner.lsn).toBe(rec.lsn);
    expect(scanner.type).toBe(rec.type);
    expect(scanner.recordBuffer.subarray(scanner.payloadStart, scanner.payloadEnd)).toEqual(
      rec.payload,
    );
    expect(scanner.payload).toEqual(rec.payload);
    if (rec.lsn <= BigInt(Number.MAX_SAFE_INTEGER)) expect(scanner.lsnNumber).toBe(Number(rec.lsn));
    records.push(rec);
  }
});

describe('FrameScanner.advance: round trip', () => {
  it('reads every record, batch and padding mix as written, then the same eof as nextRecord', () => {
    fc.assert(
      fc.property(log, fc.nat(300), (model, zeros) => {
        const { buf, records } = encodeLog(model);
        const file = Buffer.concat([buf, Buffer.alloc(zeros)]);
        const scan = withAdvance(file, { baseOffset: 64 });
        expect(scan).toEqual({ records, stop: expect.anything(), offset: 64 + buf.length });
        expect(scan).toEqual(withNextRecord(file, { baseOffset: 64 }));
      }),
    );
  });

  it('reads encrypted frames as written', () => {
    fc.assert(
      fc.property(log, (model) => {
        const { buf, records } = encodeLog(model, testCipher());
        const scan = withAdvance(buf, { cipher: testCipher() });
        expect(scan).toMatchObject({ records, stop: { kind: 'eof' } });
      }),
      { numRuns: 50 },
    );
  });

  it('can be mixed with nextRecord inside a batch, in LSN order', () => {
    const buf = Buffer.alloc(256);
    const inputs = ['a', 'b', 'c', 'd'].map((s) => ({ payload: Buffer.from(s) }));
    const n = encodeBatchFrame(buf, 0, 10n, inputs);
    const scanner = new FrameScanner(buf.subarray(0, n));
    expect(scanner.advance()).toBe(true);
    expect(scanner.lsn).toBe(10n);
    expect(scanner.nextRecord()?.lsn).toBe(11n);
    expect(scanner.advance()).toBe(true);
    expect([scanner.lsnNumber, scanner.payload.toString()]).toEqual([12, 'c']);
    expect(scanner.nextRecord()?.payload.toString()).toBe('d');
    expect(scanner.advance()).toBe(false);
    expect(scanner.stop?.kind).toBe('eof');
  });
});

describe('FrameScanner.advance: the LSN as a number', () => {
  it('is exact below 2^53 and refuses (WAL_BAD_STATE) from 2^53 on, where lsn still works', () => {
    const buf = Buffer.alloc(256);
    const first = 2n ** 53n - 2n;
    const inputs = [1, 2, 3].map((i) => ({ payload: Buffer.from([i]) }));
    let at = encodeBatchFrame(buf, 0, first, inputs);
    at += encodeRecordFrame(buf, at, 2n ** 64n - 1n, { payload: Buffer.from('last') });
    const scanner = new FrameScanner(buf.subarray(0, at));
    const seen: Array<[bigint, number | string]> = [];
    while (scanner.advance()) {
      let n: number | string;
      try {
        n = scanner.lsnNumber;
      } catch (err) {
        n = isWalError(err, WalErrorCode.BAD_STATE) ? 'refused' : 'other error';
      }
      seen.push([scanner.lsn, n]);
    }
    expect(seen).toEqual([
      [first, Number.MAX_SAFE_INTEGER - 1],
      [first + 1n, Number.MAX_SAFE_INTEGER],
      [first + 2n, 'refused'],
      [2n ** 64n - 1n, 'refused'],
    ]);
  });
});

describe('FrameScanner.advance: damage', () => {
  it('every single-byte change of a frame gives the same records and stop as nextRecord', () => {
    agreeOnEveryByteChange(withAdvance, withNextRecord);
  });

  it('every truncation of the last frame gives the same stop as nextRecord, chunked or not', () => {
    agreeOnEveryTruncation(withAdvance, withNextRecord);
  });

  it('bodies that pass the CRC but are malformed stop both as the same corruption', () => {
    const body = fc
      .tuple(fc.constantFrom(1, 2), fc.uint8Array({ minLength: 0, maxLength: 80 }))
      .map(([kind, rest]) => Buffer.concat([Buffer.from([kind]), rest]));
    const lsn = fc.bigInt({ min: 1n, max: 2n ** 64n - 1n });
    fc.assert(
      fc.property(body, fc.boolean(), lsn, (bad, before, firstLsn) => {
        const buf = Buffer.alloc(512);
        let at = 0;
        if (before) at += encodeRecordFrame(buf, at, firstLsn, { payload: Buffer.from('ok') });
        at += encodeFrame(buf, at, bad);
        const file = buf.subarray(0, at);
        expect(withAdvance(file)).toEqual(withNextRecord(file));
      }),
      { numRuns: 500 },
    );
  });

  it('random bytes give the same outcome as nextRecord, and only WalErrors', () => {
    agreeOnRandomBytes(withAdvance, withNextRecord);
  });
});
