import { WalError } from '@walnut/codec';
import { Errno } from '../../contract/errors.js';
import { readFully } from '../../contract/read-fully.js';
import type { IoCompletion } from '../../contract/types.js';
import { FaultyStorageIo } from '../../simulation/faulty.js';
import { type ConformanceSuite, check, collect, expectBytes, pattern } from './suite.js';
import { expect } from './vitest-lazy.js';

const { EBADF } = Errno;

/** The submission and completion contract: tokens, what a completion reports, how completions are collected and claimed, and failures as -errno. */
export function completionChecks(suite: ConformanceSuite): void {
  check(
    suite,
    'hands out a distinct token for every submission, from one counter',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const tokens = [
        io.submitWrite(fd, pattern(100, 1), 0),
        io.submitDatasync(fd),
        io.submitRead(fd, Buffer.alloc(10), 0),
        io.submitWritev(fd, [pattern(10, 2), pattern(10, 3)], 100),
        io.submitFsync(fd),
      ];
      for (let i = 0; i < 200; i++) tokens.push(io.submitWrite(fd, pattern(16, i), 200 + 16 * i));
      for (let i = 0; i < 20; i++) tokens.push(io.submitDatasync(fd));
      expect(new Set(tokens).size).toBe(tokens.length);
      for (const token of tokens) expect(Number.isSafeInteger(token) && token > 0).toBe(true);
      const completions = await collect(io, tokens.length);
      expect(completions.map((c) => c.token).sort((a, b) => a - b)).toEqual(
        [...tokens].sort((a, b) => a - b),
      );
      expect(io.inFlight).toBe(0);
    },
  );

  check(
    suite,
    'reports token, op, fd, bytes asked and result in every completion',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const write = io.submitWrite(fd, pattern(1000, 1), 0);
      const writev = io.submitWritev(fd, [pattern(24, 2), pattern(40, 3)], 1000);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      expect(io.inFlight).toBe(3);
      const byToken = new Map((await collect(io, 3)).map((c) => [c.token, c]));
      expect(byToken.get(write)).toEqual({
        token: write,
        op: 'write',
        fd,
        requested: 1000,
        result: 1000,
      });
      expect(byToken.get(writev)).toEqual({
        token: writev,
        op: 'writev',
        fd,
        requested: 64,
        result: 64,
      });
      expect(byToken.get(sync)).toEqual({
        token: sync,
        op: 'fdatasync',
        fd,
        requested: 0,
        result: 0,
      });
      const into = Buffer.alloc(2000);
      const read = io.submitRead(fd, into, 0);
      const fsync = io.submitFsync(fd);
      const more = new Map((await collect(io, 2)).map((c) => [c.token, c]));
      expect(more.get(read)).toEqual({
        token: read,
        op: 'read',
        fd,
        requested: 2000,
        result: 1064,
      });
      expect(more.get(fsync)).toEqual({ token: fsync, op: 'fsync', fd, requested: 0, result: 0 });
      expectBytes(into.subarray(0, 1000), pattern(1000, 1));
      expectBytes(into.subarray(1000, 1024), pattern(24, 2));
      expectBytes(into.subarray(1024, 1064), pattern(40, 3));
    },
  );

  check(
    suite,
    'pollCompletions never blocks and waitCompletions resolves once min are ready',
    async ({ io, openFile }) => {
      const fd = await openFile();
      expect(io.pollCompletions()).toEqual([]);
      for (let i = 0; i < 8; i++) io.submitWrite(fd, pattern(512, i), i * 512);
      expect(io.flush()).toBe(8);
      expect(io.flush()).toBe(0);
      const first = await io.waitCompletions(8);
      const rest = first.length < 8 ? await collect(io, 8 - first.length) : [];
      expect(first.length + rest.length).toBe(8);
      expect(await io.waitCompletions(1)).toEqual([]);
    },
  );

  check(
    suite,
    'reports a short transfer as a byte count, not an error',
    async ({ io, openFile }) => {
      const fd = await openFile();
      await io.write(fd, pattern(700, 4), 0);
      const into = Buffer.alloc(4096);
      const token = io.submitRead(fd, into, 500);
      const completion = await io.completion(token);
      expect(completion.result).toBe(200);
      expectBytes(into.subarray(0, 200), pattern(700, 4).subarray(500));
    },
  );

  check(suite, 'write() finishes a write the backend cut short', async ({ io, openFile }) => {
    const faulty = new FaultyStorageIo(io);
    const fd = await openFile();
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 1000 });
    faulty.inject({ kind: 'short-write', nth: 2, bytes: 3 });
    const data = pattern(10_000, 5);
    expect(await faulty.write(fd, data, 0)).toBe(10_000);
    expect(faulty.counts.write).toBe(3);
    const back = Buffer.alloc(10_000);
    expect(await readFully(io, fd, back, 0)).toBe(10_000);
    expectBytes(back, data);
    await faulty.closeIo();
  });

  check(
    suite,
    'completes failures with -errno: bad fd, and reading past the end yields 0 bytes',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const bad = 1_000_000;
      const write = await io.completion(io.submitWrite(bad, pattern(10, 1), 0));
      expect(write.result).toBe(-EBADF);
      const sync = await io.completion(io.submitDatasync(bad));
      expect(sync.result).toBe(-EBADF);
      const read = await io.completion(io.submitRead(fd, Buffer.alloc(100), 1_000_000));
      expect(read.result).toBe(0);
      await expect(io.write(bad, pattern(10, 1), 0)).rejects.toMatchObject({
        code: 'WAL_IO',
        details: { errno: EBADF, syscall: 'write' },
      });
      await expect(io.datasync(bad)).rejects.toBeInstanceOf(WalError);
      expect(await io.read(fd, Buffer.alloc(10), 5)).toBe(0);
    },
  );

  check(
    suite,
    'rejects completion() for unknown or already claimed tokens',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const token = io.submitDatasync(fd);
      const claimed = io.completion(token);
      await expect(io.completion(token)).rejects.toMatchObject({ code: 'WAL_BAD_ARGUMENT' });
      expect((await claimed).result).toBe(0);
      await expect(io.completion(token)).rejects.toMatchObject({ code: 'WAL_BAD_ARGUMENT' });
    },
  );

  check(
    suite,
    'onCompletion calls back once per claimed token, never inside the claiming call',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const data = pattern(4096, 3);
      const seen: IoCompletion[] = [];
      const token = io.submitWrite(fd, data, 0);
      io.onCompletion(token, (completion) => seen.push(completion));
      expect(seen).toEqual([]);
      expect(() => io.onCompletion(token, () => undefined)).toThrow(WalError);
      await expect(io.completion(token)).rejects.toMatchObject({ code: 'WAL_BAD_ARGUMENT' });
      for (let i = 0; i < 2000 && seen.length === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      expect(seen).toMatchObject([{ token, op: 'write', fd, requested: 4096, result: 4096 }]);
      expect(await io.pollCompletions()).toEqual([]);
    },
  );

  check(
    suite,
    'reapCompletions hands over, synchronously, what is already complete',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const seen: number[] = [];
      const tokens = Array.from({ length: 16 }, (_, i) =>
        io.submitWrite(fd, pattern(4096, i), i * 4096),
      );
      for (const token of tokens) io.onCompletion(token, (c) => seen.push(c.result));
      io.flush();
      // This loop never yields to the event loop (bounded by a deadline): the callbacks can
      // only run inside reapCompletions, as they would in a caller's tight append loop.
      const deadline = Date.now() + 10_000;
      while (seen.length < tokens.length && Date.now() < deadline) io.reapCompletions();
      expect(seen).toEqual(tokens.map(() => 4096));
      io.reapCompletions();
      expect(seen).toHaveLength(tokens.length);
    },
  );
}
