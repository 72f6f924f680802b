import { afterEach, describe, expect, it, vi } from 'vitest';

// Each case imports faulty.ts afresh (the first default seed is read once per module
// instance), with the classes it checks against.
async function freshFaulty(env?: string) {
  if (env !== undefined) vi.stubEnv('WALNUT_FAULT_SEED', env);
  vi.resetModules();
  const { FaultyStorageIo } = await import('./faulty.js');
  const { MemoryStorageIo } = await import('../backends/memory.js');
  const { expectWalError } = await import('@walnut/codec/testing');
  return { FaultyStorageIo, MemoryStorageIo, expectWalError };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('the seed of a FaultyStorageIo built without one', () => {
  it('is WALNUT_FAULT_SEED for the first instance, then counts up, so a failed test replays', async () => {
    const { FaultyStorageIo, MemoryStorageIo } = await freshFaulty('1234');
    const memory = new MemoryStorageIo();
    expect([1, 2, 3].map(() => new FaultyStorageIo(memory).seed)).toEqual([1234, 1235, 1236]);
    expect(new FaultyStorageIo(memory, { seed: 7 }).seed).toBe(7);
  });

  it('tears a crash the same way when replayed with the seed it printed', async () => {
    const tornLength = async (env?: string) => {
      const { FaultyStorageIo, MemoryStorageIo } = await freshFaulty(env);
      const memory = new MemoryStorageIo();
      const io = new FaultyStorageIo(memory);
      const fd = await io.open('/f', { create: true });
      await io.write(fd, Buffer.alloc(64 * 1024, 1), 0);
      await io.crash({ tear: true });
      return { seed: io.seed, length: memory.fileBytes('/f')?.length ?? 0 };
    };
    const first = await tornLength();
    expect(await tornLength(String(first.seed))).toEqual(first);
  });

  it('is handed to the test runner, which prints it when the test fails', async () => {
    const { FaultyStorageIo, MemoryStorageIo } = await freshFaulty();
    const seeds = (globalThis as { [key: symbol]: number[] | undefined })[
      Symbol.for('walnut.faultSeeds')
    ];
    const io = new FaultyStorageIo(new MemoryStorageIo());
    expect(seeds).toEqual([io.seed]);
  });

  it('refuses a WALNUT_FAULT_SEED that is not a whole number', async () => {
    const { FaultyStorageIo, MemoryStorageIo, expectWalError } = await freshFaulty('12ab');
    expectWalError(() => new FaultyStorageIo(new MemoryStorageIo()), 'WAL_BAD_ARGUMENT');
  });
});
