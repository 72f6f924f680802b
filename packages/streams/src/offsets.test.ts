import { describe, expect, it } from 'vitest';
import { StreamErrorCode } from './errors.js';
import { formatOffset, parseOffset } from './offsets.js';

describe('offsets', () => {
  it('have a string form that sorts as the numbers do', () => {
    const numbers = [0, 9, 10, 99, 100, 12345, 2 ** 40, Number.MAX_SAFE_INTEGER];
    const strings = numbers.map(formatOffset);
    expect([...strings].sort()).toEqual(strings);
    expect(strings.map(parseOffset)).toEqual(numbers);
  });

  it('are refused when negative, fractional or malformed', () => {
    for (const bad of [-1, 1.5, Number.NaN, '12', '-000000000000001', 'abcdefghijklmnop']) {
      expect(() => parseOffset(bad)).toThrow(
        expect.objectContaining({ code: StreamErrorCode.BAD_OFFSET }),
      );
    }
  });
});
