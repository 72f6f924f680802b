import { describe, expect, it } from 'vitest';
import { BufferView } from './buffer-view.js';
import { isBytes } from './bytes.js';

describe('isBytes: what every layer takes as a payload', () => {
  it.each([
    ['a Buffer', Buffer.from('abc')],
    ['a Uint8Array', new Uint8Array(3)],
    ['a view into a larger buffer', Buffer.alloc(16).subarray(4, 8)],
    ['an empty Buffer', Buffer.alloc(0)],
    ['a BufferView (what replay hands out)', new BufferView(new ArrayBuffer(8), 0, 8)],
  ])('takes %s', (_, value) => {
    expect(isBytes(value)).toBe(true);
  });

  it.each([
    ['a Proxy of a Buffer, whose length throws', new Proxy(Buffer.from('abc'), {})],
    ['an ArrayBuffer', new ArrayBuffer(4)],
    ['a DataView', new DataView(new ArrayBuffer(4))],
    ['a Uint16Array', new Uint16Array(2)],
    ['a string', 'abc'],
    ['an array of numbers', [1, 2, 3]],
    ['null', null],
  ])('refuses %s', (_, value) => {
    expect(isBytes(value)).toBe(false);
  });
});
