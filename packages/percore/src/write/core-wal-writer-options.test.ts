import { describe, expect, it } from 'vitest';
import { DEFAULT_CORE_BUFFER_SIZE, DEFAULT_WRITE_BUFFER_SIZE } from '../index.js';

describe('the default write buffer size', () => {
  it('is exported as DEFAULT_CORE_BUFFER_SIZE, and still under its deprecated name', () => {
    expect(DEFAULT_CORE_BUFFER_SIZE).toBe(256 * 1024);
    expect(DEFAULT_WRITE_BUFFER_SIZE).toBe(DEFAULT_CORE_BUFFER_SIZE);
  });
});
