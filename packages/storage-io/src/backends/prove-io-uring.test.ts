import { describe, expect, it, vi } from 'vitest';
import { createStorageIo, openStorageIo } from './create.js';
import { ioUringAvailability } from './io-uring.js';
import { ioUringProof, proveIoUring } from './prove-io-uring.js';

const ring = ioUringAvailability();

describe('proving io_uring before auto picks it', () => {
  it('sees a test completion come back through the event loop exactly where a ring can be created', async () => {
    const proof = await proveIoUring();
    expect(proof.works).toBe(ring.available);
    if (proof.works)
      expect(proof.reason).toMatch(/^a test read came back through the event loop in [\d.]+ ms$/);
    else expect(proof.reason).toContain(ring.reason);
    expect(ioUringProof()).toBe(proof);
    expect(await proveIoUring()).toBe(proof); // once per process
  });

  it('lets openStorageIo and later createStorageIo calls say what the proof found', async () => {
    delete process.env.WALNUT_STORAGE_IO;
    const proof = await proveIoUring();
    for (const io of [await openStorageIo(), createStorageIo({ backend: 'auto' })]) {
      expect(io.name).toBe(proof.works ? 'io_uring' : 'sync-fs');
      expect(io.describe().reason).toContain(proof.reason);
      await io.closeIo();
    }
  });

  it('is not fooled by an application that blocks the event loop past the bound', async () => {
    vi.resetModules(); // a process that has not proven anything yet
    const fresh = await import('./prove-io-uring.js');
    const proof = fresh.proveIoUring();
    const until = Date.now() + 2_500; // the bound is 2 s
    while (Date.now() < until) {
      // a synchronous start-up the application does before its first await
    }
    expect((await proof).works).toBe(ring.available);
  });

  it('does not prove anything for a backend named explicitly', async () => {
    const io = await openStorageIo({ backend: 'memory' });
    expect(io.name).toBe('memory');
    await io.closeIo();
  });
});
