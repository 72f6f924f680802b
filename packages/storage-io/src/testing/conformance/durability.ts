import { join } from 'node:path';
import { Errno } from '../../contract/errors.js';
import { readFully } from '../../contract/read-fully.js';
import { FaultyStorageIo } from '../../simulation/faulty.js';
import { type ConformanceSuite, check, collect, expectBytes, pattern } from './suite.js';
import { expect } from './vitest-lazy.js';

const { EBADF, ECANCELED } = Errno;

/** What a sync makes durable: writes completed before it, a linked chain, dsync writes, and a chain a failure broke. */
export function durabilityChecks(suite: ConformanceSuite): void {
  check(
    suite,
    'a sync covers every write that completed before it was submitted',
    async ({ io, dir, options }) => {
      const path = join(dir, 'data');
      const fd = await io.open(path, { create: true });
      const blocks = Array.from({ length: 32 }, (_, i) => pattern(4096, i));
      for (const [i, block] of blocks.entries()) io.submitWrite(fd, block, i * 4096);
      const writes = await collect(io, blocks.length);
      for (const c of writes) expect(c.result).toBe(4096);
      await io.datasync(fd);
      const expected = Buffer.concat(blocks);
      if (options.durableImage) expectBytes(options.durableImage(io, path), expected);
      const back = Buffer.alloc(expected.length);
      expect(await readFully(io, fd, back, 0)).toBe(expected.length);
      expectBytes(back, expected);
    },
  );

  check(
    suite,
    'runs a write→fdatasync chain: the sync completes after the write succeeded',
    async ({ io, dir, options }) => {
      const path = join(dir, 'data');
      const fd = await io.open(path, { create: true });
      const data = pattern(8192, 9);
      const write = io.submitWrite(fd, data, 0);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      const [w, s] = await Promise.all([io.completion(write), io.completion(sync)]);
      expect(w!.result).toBe(8192);
      expect(s!.result).toBe(0);
      if (options.durableImage) expectBytes(options.durableImage(io, path), data);
      // Linking behind a submission already handed over in an earlier flush.
      const second = io.submitWrite(fd, pattern(100, 1), 8192);
      io.flush();
      const linked = io.submitDatasync(fd, { linkToPrevious: true });
      expect((await io.completion(second)).result).toBe(100);
      expect((await io.completion(linked)).result).toBe(0);
    },
  );

  check(
    suite,
    'a dsync write or writev is durable when it completes, where dsyncWrites says so',
    async ({ io, dir, options }) => {
      if (io.dsyncWrites !== true) return;
      const path = join(dir, 'data');
      const fd = await io.open(path, { create: true });
      const plain = pattern(4096, 1);
      const single = pattern(4096, 2);
      const vector = [pattern(1000, 3), pattern(3096, 4)];
      expect((await io.completion(io.submitWrite(fd, plain, 0))).result).toBe(4096);
      const write = io.submitWrite(fd, single, 4096, { dsync: true });
      expect((await io.completion(write)).result).toBe(4096);
      const writev = io.submitWritev(fd, vector, 8192, { dsync: true });
      expect((await io.completion(writev)).result).toBe(4096);
      const synced = Buffer.concat([single, ...vector]);
      const durable = options.durableImage?.(io, path);
      // Only the dsync writes' own bytes are promised; the plain write before them is not.
      if (durable) expectBytes(durable.subarray(4096, 12288), synced);
      const back = Buffer.alloc(12288);
      expect(await readFully(io, fd, back, 0)).toBe(12288);
      expectBytes(back, Buffer.concat([plain, synced]));
    },
  );

  check(
    suite,
    'a broken chain completes the sync with an error, never with success',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const badWrite = io.submitWrite(1_000_000, pattern(100, 1), 0);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      const after = io.submitFsync(fd, { linkToPrevious: true });
      const [w, s, a] = await Promise.all([badWrite, sync, after].map((t) => io.completion(t)));
      expect(w!.result).toBe(-EBADF);
      expect(s!.result).toBe(-ECANCELED);
      expect(a!.result).toBe(-ECANCELED);
      // A short write breaks the chain too (the sync would not cover the whole write).
      const faulty = new FaultyStorageIo(io);
      faulty.inject({ kind: 'short-write', nth: 1, bytes: 10 });
      const shortWrite = faulty.submitWrite(fd, pattern(100, 2), 0);
      const guarded = faulty.submitDatasync(fd, { linkToPrevious: true });
      expect((await faulty.completion(shortWrite)).result).toBe(10);
      expect((await faulty.completion(guarded)).result).toBe(-ECANCELED);
      await faulty.closeIo();
      // Linked behind a failure from an earlier flush.
      const failed = io.submitWrite(1_000_000, pattern(10, 3), 0);
      io.flush();
      const late = io.submitDatasync(fd, { linkToPrevious: true });
      expect((await io.completion(failed)).result).toBe(-EBADF);
      expect((await io.completion(late)).result).toBe(-ECANCELED);
      // An unlinked submission is not affected by the failure before it.
      expect((await io.completion(io.submitDatasync(fd))).result).toBe(0);
    },
  );
}
