import { WalErrorCode } from '@walnut/codec';
import { expectWalError } from '@walnut/codec/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorageIo } from './memory.js';
import { checkStorageChoice, resolveStorage } from './storage-choice.js';

const original = process.env.WALNUT_STORAGE_IO;
afterEach(() => {
  if (original === undefined) delete process.env.WALNUT_STORAGE_IO;
  else process.env.WALNUT_STORAGE_IO = original;
});

describe('checkStorageChoice', () => {
  it('takes a backend name or a StorageIo as they are', () => {
    const io = new MemoryStorageIo();
    expect(checkStorageChoice('sync-fs', 'storageIo')).toBe('sync-fs');
    expect(checkStorageChoice(io, 'storageIo')).toBe(io);
  });

  it.each([
    ['a misspelt backend', 'uring'],
    ['nothing', undefined],
  ])('refuses %s under the option name it is given, listing every backend', (_, value) => {
    const error = expectWalError(
      () => checkStorageChoice(value, 'storage'),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(error.message).toContain(
      "storage must be a StorageIo or one of 'auto', 'io_uring', 'sync-fs', 'memory'",
    );
  });

  it('names the first method an object meant as a StorageIo lacks', () => {
    const lacking = new Proxy(new MemoryStorageIo(), {
      get: (target, key) => (key === 'syncDirectory' ? undefined : Reflect.get(target, key)),
    });
    for (const [value, missing] of [
      [lacking, 'syncDirectory'],
      [{ write: () => 0 }, 'close'],
    ] as const) {
      const error = expectWalError(
        () => checkStorageChoice(value, 'storage'),
        WalErrorCode.BAD_ARGUMENT,
      );
      expect(error.message).toContain(
        `storage must be a StorageIo (it has no ${missing}() method) or one of 'auto', 'io_uring', 'sync-fs', 'memory'`,
      );
    }
  });
});

describe('resolveStorage', () => {
  it("uses the caller's instance and leaves closing it to the caller", async () => {
    const io = new MemoryStorageIo();
    expect(await resolveStorage(io, undefined)).toEqual({ io, owned: false });
  });

  it('creates the backend named, owned by whoever asked', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    const { io, owned } = await resolveStorage('memory', undefined);
    expect([io.name, owned]).toEqual(['memory', true]);
    await io.closeIo();
  });

  it("creates 'auto' when nothing was chosen", async () => {
    delete process.env.WALNUT_STORAGE_IO;
    const { io, owned } = await resolveStorage(undefined, undefined);
    expect(owned).toBe(true);
    expect(io.describe().reason).toMatch(/^auto/);
    await io.closeIo();
  });

  it("refuses anything else as the option 'storageIo' before creating a backend", async () => {
    await expectWalError(resolveStorage('uring' as never, undefined), WalErrorCode.BAD_ARGUMENT);
  });
});
