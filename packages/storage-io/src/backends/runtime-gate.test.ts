import { currentRuntime } from '@walnut/codec';
import { expectWalError } from '@walnut/codec/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { createStorageIo } from './create.js';
import { ioUringAvailability } from './io-uring.js';
import { ioUringRuntimeGate } from './runtime-gate.js';

const original = process.env.WALNUT_STORAGE_IO;
afterEach(() => {
  if (original === undefined) delete process.env.WALNUT_STORAGE_IO;
  else process.env.WALNUT_STORAGE_IO = original;
});

describe('which runtimes may run io_uring', () => {
  it.each([
    ['bun', '1.4.5', "Bun 1.4.5 does not implement libuv's uv_poll"],
    ['deno', '2.9.6', "Deno 2.9.6 does not run libuv's uv_poll callbacks"],
  ] as const)('not %s, and it says why', (name, version, says) => {
    expect(ioUringRuntimeGate({ name, version })).toContain(says);
  });

  it('Node, where completions come through uv_poll (then the proof decides)', () => {
    expect(ioUringRuntimeGate({ name: 'node', version: '20.20.2' })).toBeNull();
  });
});

// Run by CI under Node, Bun and Deno: each takes its own branch here.
describe(`in this runtime (${currentRuntime().name})`, () => {
  const refused = ioUringRuntimeGate();

  it('auto runs sync-fs for the runtime’s reason, or io_uring exactly when a ring works', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    const io = createStorageIo({ backend: 'auto' });
    if (refused !== null) {
      expect(io.name).toBe('sync-fs');
      expect(io.describe().reason).toBe(
        `auto: fell back to sync-fs because io_uring is unavailable: ${refused}`,
      );
    } else {
      expect(io.name).toBe(ioUringAvailability().available ? 'io_uring' : 'sync-fs');
    }
    await io.closeIo();
  });

  it('refuses io_uring by name where the runtime cannot run it, before the addon is touched', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    if (refused === null) {
      expect(ioUringAvailability().reason).not.toContain('uv_poll');
      return;
    }
    expect(
      expectWalError(() => createStorageIo({ backend: 'io_uring' }), 'WAL_BACKEND_UNAVAILABLE'),
    ).toMatchObject({
      message: `io_uring is unavailable: ${refused}. Choose 'auto' (it falls back to sync-fs and says why) or 'sync-fs'`,
    });
    expect(ioUringAvailability()).toEqual({ available: false, reason: refused });
  });
});
