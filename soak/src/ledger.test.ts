import { crc32c } from '@walnut/codec';
import { describe, expect, it } from 'vitest';
import { Ledger } from './ledger.js';
import { makePayload } from './payload.js';

/** Producer p's record #seq of epoch 0. */
const rec = (p: number, seq: number) => makePayload({ epoch: 0, producer: p, seq }, 64);

/** A log of records in LSN order, acknowledging the first `acked` of them. */
function ledgerFor(records: Buffer[], acked: number): Ledger {
  const ledger = new Ledger();
  for (const [i, r] of records.slice(0, acked).entries()) ledger.ack(i + 1, crc32c(r));
  return ledger;
}

function check(ledger: Ledger, log: Buffer[], lsns = log.map((_, i) => BigInt(i + 1))) {
  const c = ledger.startCheck();
  for (const [i, payload] of log.entries()) c.record(lsns[i]!, payload);
  return c.finish();
}

const written = [rec(0, 0), rec(1, 0), rec(0, 1), rec(1, 1), rec(0, 2)];

describe('Ledger check', () => {
  it('passes a log holding every acknowledged record, and an unacknowledged tail', () => {
    const result = check(ledgerFor(written, 3), written);
    expect(result.violations).toEqual([]);
    expect(result).toMatchObject({
      records: 5,
      acknowledgedChecked: 3,
      unacknowledged: 2,
      lastLsn: 5n,
    });
  });

  it('catches a missing acknowledged record', () => {
    const result = check(ledgerFor(written, 5), written.slice(0, 4));
    expect(result.violations).toEqual([
      '1 acknowledged record(s) missing from LSN 5 on (the log ends at LSN 4)',
    ]);
  });

  it('catches an acknowledged record with other bytes', () => {
    const log = [...written];
    log[1] = rec(1, 7);
    expect(check(ledgerFor(written, 5), log).violations).toContain(
      'acknowledged LSN 2 holds other bytes than were acknowledged',
    );
  });

  it('catches a gap in the LSNs', () => {
    const result = check(ledgerFor(written, 0), written.slice(0, 2), [1n, 3n]);
    expect(result.violations).toEqual(['LSN 3 follows LSN 1 (a gap or a repeat)']);
  });

  it('catches invented bytes and duplicated records among the unacknowledged ones', () => {
    const log = [...written, Buffer.from('never written'), rec(0, 2)];
    expect(check(ledgerFor(written, 5), log).violations).toEqual([
      'LSN 6 holds 13 bytes no producer wrote (invented)',
      'LSN 7 repeats record #2 of producer 0 in epoch 0 (a duplicate)',
    ]);
  });

  it('catches a producer whose later record survived an earlier one', () => {
    const log = [rec(0, 0), rec(0, 2)];
    expect(check(ledgerFor([], 0), log).violations).toEqual([
      'producer 0 of epoch 0: record #2 is in the log but 1 earlier one(s), acknowledged before it was appended, are not',
    ]);
  });

  it('catches a record an earlier recovery found that is gone or changed', () => {
    const ledger = ledgerFor(written, 0);
    expect(check(ledger, written).violations).toEqual([]);
    expect(check(ledger, written.slice(0, 3)).violations).toEqual([
      '2 record(s) an earlier recovery found after LSN 3 are gone',
    ]);
    const changed = [...written.slice(0, 2), rec(1, 1)];
    expect(check(ledger, changed).violations).toContain(
      'LSN 3 holds other bytes than an earlier recovery found there',
    );
  });
});
