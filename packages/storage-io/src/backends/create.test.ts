import { expectWalError } from '@walnut/codec/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { loadNative, loadNativeFrom, nativeAddonStatus } from '../native.js';
import { createStorageIo, openStorageIo } from './create.js';
import { type IoUringConfig, ioUringAvailability } from './io-uring.js';

const original = process.env.WALNUT_STORAGE_IO;
afterEach(() => {
  if (original === undefined) delete process.env.WALNUT_STORAGE_IO;
  else process.env.WALNUT_STORAGE_IO = original;
});

describe('createStorageIo', () => {
  it('creates the backend asked for', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    const memory = createStorageIo({ backend: 'memory' });
    expect(memory.name).toBe('memory');
    const syncFs = createStorageIo({ backend: 'sync-fs' });
    expect(syncFs.describe()).toMatchObject({ backend: 'sync-fs', reason: 'chosen explicitly' });
    await Promise.all([memory.closeIo(), syncFs.closeIo()]);
  });

  it("says sync-fs's fallocate and writeback are the system's only on Linux with the addon", async () => {
    const syncFs = createStorageIo({ backend: 'sync-fs' });
    const native = loadNative().binding !== null && process.platform === 'linux';
    const expected = native ? 'native' : expect.stringMatching(/^unsupported \(/);
    expect(syncFs.describe().details).toMatchObject({ fallocate: expected, writeback: expected });
    await syncFs.closeIo();
  });

  it('lets WALNUT_STORAGE_IO override the option', async () => {
    process.env.WALNUT_STORAGE_IO = 'memory';
    const io = createStorageIo({ backend: 'sync-fs' });
    expect(io.name).toBe('memory');
    await io.closeIo();
  });

  it.each([
    [
      'a backend named alone',
      'io_uring',
      "a backend by name: createStorageIo({ backend: 'io_uring' })",
    ],
    ['null', null, 'an object { backend?, ioUring? }'],
    [
      'a misspelt key',
      { backnd: 'sync-fs' },
      '"backnd" is not an option of createStorageIo() — did you mean backend?',
    ],
  ])('refuses %s instead of running auto', (_, options, says) => {
    delete process.env.WALNUT_STORAGE_IO;
    expect(
      expectWalError(() => createStorageIo(options as never), 'WAL_BAD_ARGUMENT'),
    ).toMatchObject({ message: expect.stringContaining(says) });
  });

  it('names openStorageIo when that is what was called', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    const error = await expectWalError(openStorageIo('io_uring' as never), 'WAL_BAD_ARGUMENT');
    expect(error.message).toContain("a backend by name: openStorageIo({ backend: 'io_uring' })");
  });

  it('rejects an unknown WALNUT_STORAGE_IO value', () => {
    process.env.WALNUT_STORAGE_IO = 'floppy';
    expectWalError(() => createStorageIo(), 'WAL_BAD_ARGUMENT');
  });

  it('auto picks io_uring exactly when a ring can be created, and says why either way', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    const io = createStorageIo({ backend: 'auto' });
    const availability = ioUringAvailability();
    expect(io.name).toBe(availability.available ? 'io_uring' : 'sync-fs');
    if (!availability.available) expect(io.describe().reason).toContain('fell back to sync-fs');
    // The trade it made, and how to make the other one.
    else expect(io.describe().reason).toMatch(/off the event loop.*backend 'sync-fs'/);
    await io.closeIo();
  });
});

describe('native addon loading', () => {
  it('says why the addon did not load and what runs instead', () => {
    const load = loadNativeFrom('/nonexistent/walnut');
    expect(load.binding).toBeNull();
    expect(load.reason).toContain('No native build was found');
    expect(load.reason).toContain('/nonexistent/walnut');
    expect(load.reason).toContain('sync-fs');
  });
});

describe('nativeAddonStatus', () => {
  it('agrees with io_uring availability', () => {
    const status = nativeAddonStatus();
    if (ioUringAvailability().available) expect(status.loaded).toBe(true);
    if (!status.loaded) expect(status.reason.length).toBeGreaterThan(0);
  });
});

describe('io_uring options are used or refused, never ignored', () => {
  it.each(['registeredFiles', 'registeredBuffers'])(
    'refuses %s, which is not implemented',
    (key) => {
      for (const backend of ['auto', 'io_uring', 'sync-fs', 'memory'] as const) {
        expect(
          expectWalError(
            () => createStorageIo({ backend, ioUring: { [key]: true } as IoUringConfig }),
            'WAL_BAD_ARGUMENT',
          ),
        ).toMatchObject({ message: expect.stringContaining(`ioUring.${key} is not supported`) });
      }
    },
  );

  it('refuses unknown keys and bad values, naming them', () => {
    const bad: [object, string][] = [
      [{ entires: 64 }, 'ioUring.entires'],
      [{ entries: 0 }, 'ioUring.entries'],
      [{ sqpoll: 'yes' }, 'ioUring.sqpoll'],
      [{ sqpollIdleMs: -1 }, 'ioUring.sqpollIdleMs'],
    ];
    for (const [ioUring, name] of bad) {
      expect(() =>
        createStorageIo({ backend: 'sync-fs', ioUring: ioUring as IoUringConfig }),
      ).toThrow(name);
    }
  });
});
