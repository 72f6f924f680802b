import v8 from 'node:v8';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { addonNumber } from './addon-number.js';

// V8's own test for its small-integer representation, which is the point of addonNumber.
v8.setFlagsFromString('--allow-natives-syntax');
const isSmallInteger = new Function('x', 'return %IsSmi(x)') as (x: number) => boolean;

describe('addonNumber', () => {
  it('hands back an int32 read from a Float64Array as a small integer, not a heap number', () => {
    const from = new Float64Array([7, 2 ** 31 - 1, -5, -(2 ** 31), 123_456_789]);
    for (let i = 0; i < from.length; i++) {
      expect(isSmallInteger(from[i]!)).toBe(false); // what the array itself hands back
      expect(isSmallInteger(addonNumber(from[i]!))).toBe(true);
    }
  });

  it('keeps every other number as it is: past 32 bits, fractional, negative zero, NaN', () => {
    const from = new Float64Array([2 ** 31, 2 ** 32 + 5, 2 ** 40, 0.5, -0, Number.NaN]);
    expect(Array.from(from, addonNumber)).toEqual([
      2 ** 31,
      2 ** 32 + 5,
      2 ** 40,
      0.5,
      -0,
      Number.NaN,
    ]);
    expect(Object.is(addonNumber(-0), -0)).toBe(true);
  });

  it('never changes a value', () => {
    fc.assert(
      fc.property(fc.double(), (x) => {
        expect(Object.is(addonNumber(x), x)).toBe(true);
      }),
    );
  });
});
