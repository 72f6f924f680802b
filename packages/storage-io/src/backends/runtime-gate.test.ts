import { afterEach, describe, expect, it, vi } from 'vitest';
import { createStorageIo } from './create.js';
import { ioUringAvailability } from './io-uring.js';

const original = process.env.WALNUT_STORAGE_IO;
afterEach(() => {
  vi.unstubAllGlobals();
  delete (process.versions as Record<string, string>).bun;
  if (original === undefined) delete process.env.WALNUT_STORAGE_IO;
  else process.env.WALNUT_STORAGE_IO = original;
});

const runtimes = [
  [
    'Bun',
    () => ((process.versions as Record<string, string>).bun = '1.4.5'),
    /Bun 1\.4\.5 does not implement libuv's uv_poll/,
  ],
  [
    'Deno',
    () => vi.stubGlobal('Deno', { version: { deno: '2.9.6' } }),
    /Deno 2\.9\.6 does not run libuv's uv_poll callbacks/,
  ],
] as const;

describe.each(runtimes)('on %s', (_, pretend, says) => {
  it('auto runs sync-fs and says the runtime is why, without creating a ring', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    pretend();
    const io = createStorageIo({ backend: 'auto' });
    expect(io.name).toBe('sync-fs');
    expect(io.describe().reason).toMatch(
      /^auto: fell back to sync-fs because io_uring is unavailable: /,
    );
    expect(io.describe().reason).toMatch(says);
    await io.closeIo();
  });

  it('refuses io_uring asked for by name, before the addon is touched', () => {
    delete process.env.WALNUT_STORAGE_IO;
    pretend();
    expect(() => createStorageIo({ backend: 'io_uring' })).toThrow(
      expect.objectContaining({
        code: 'WAL_BACKEND_UNAVAILABLE',
        message: expect.stringMatching(says),
      }),
    );
    expect(ioUringAvailability()).toEqual({
      available: false,
      reason: expect.stringMatching(says),
    });
  });
});
