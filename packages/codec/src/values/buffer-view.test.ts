import { expect, it } from 'vitest';
import { bufferView } from './buffer-view.js';

it('bufferView makes a Buffer that shares memory and behaves like one', () => {
  const base = Buffer.from('hello, mapped world');
  const view = bufferView(base, 7, 13);
  expect(Buffer.isBuffer(view)).toBe(true);
  expect(view).toBeInstanceOf(Buffer);
  expect(view.constructor).toBe(Buffer);
  expect(view).toEqual(Buffer.from('mapped'));
  expect(view.toString()).toBe('mapped');
  expect(view.length).toBe(6);
  expect(view.equals(Buffer.from('mapped'))).toBe(true);
  expect(view.readUInt16LE(0)).toBe(0x616d);
  expect(view.subarray(1, 3).toString()).toBe('ap');
  expect(Buffer.concat([view, Buffer.from('!')]).toString()).toBe('mapped!');
  base[7] = 0x4d;
  expect(view.toString('utf8')).toBe('Mapped');
  expect(view.buffer).toBe(base.buffer);
});
