import { describe, expect, it } from 'vitest';
import { jsonReady, jsonSafe } from './json.js';

describe('jsonSafe', () => {
  it('turns every bigint, however nested, into its decimal string', () => {
    expect(
      jsonSafe({ lsn: 2n ** 64n - 1n, ranges: [{ from: 1n, to: 3n }], ok: true, n: 7 }),
    ).toEqual({ lsn: '18446744073709551615', ranges: [{ from: '1', to: '3' }], ok: true, n: 7 });
    expect(jsonSafe(5n)).toBe('5');
  });

  it('leaves what is not a plain object or array to JSON itself', () => {
    const bytes = Buffer.from('ab');
    const when = new Date(0);
    const safe = jsonSafe({ bytes, when, none: null, missing: undefined }) as Record<
      string,
      unknown
    >;
    expect(safe.bytes).toBe(bytes);
    expect(safe.when).toBe(when);
    expect(JSON.stringify(safe)).toBe(JSON.stringify({ bytes, when, none: null }));
  });
});

describe('jsonReady', () => {
  it('makes JSON.stringify write the object through jsonSafe, without a visible field', () => {
    const report = jsonReady({ lastLsn: 9n, gaps: [{ from: 2n, to: 3n }] });
    expect(JSON.parse(JSON.stringify(report))).toEqual({
      lastLsn: '9',
      gaps: [{ from: '2', to: '3' }],
    });
    expect(Object.keys(report)).toEqual(['lastLsn', 'gaps']);
    expect(report).toEqual({ lastLsn: 9n, gaps: [{ from: 2n, to: 3n }] });
  });
});
