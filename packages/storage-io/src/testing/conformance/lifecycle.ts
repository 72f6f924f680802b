import { join } from 'node:path';
import type { IoCompletion } from '../../contract/types.js';
import { type ConformanceSuite, check, pattern } from './suite.js';
import { expect } from './vitest-lazy.js';

/** Opening files as submissions, closing the backend with work in flight, the writer lock, and the description. */
export function lifecycleChecks(suite: ConformanceSuite): void {
  check(
    suite,
    'opens a file as a submission, whose descriptor a loop that never yields gets',
    async ({ io, dir }) => {
      let opened: IoCompletion | undefined;
      io.onCompletion(io.submitOpen(join(dir, 'next'), { create: true }), (c) => {
        opened = c;
      });
      io.flush();
      const deadline = Date.now() + 10_000;
      while (opened === undefined && Date.now() < deadline) io.reapCompletions();
      expect(opened).toMatchObject({ op: 'open', fd: -1, requested: 0 });
      const fd = opened!.result;
      expect(fd).toBeGreaterThanOrEqual(0);
      await io.write(fd, pattern(100, 3), 0);
      expect(await io.stat(join(dir, 'next'))).toEqual({ size: 100 });
      await io.close(fd);
      const missing = await io.completion(io.submitOpen(join(dir, 'missing', 'x')));
      expect(missing).toMatchObject({ op: 'open', result: -2 });
      expect(() => io.submitOpen('')).toThrow(
        expect.objectContaining({ code: 'WAL_BAD_ARGUMENT' }),
      );
    },
  );

  check(
    suite,
    'closes with work in flight: everything completes, later submissions fail',
    async ({ io, openFile }) => {
      const fd = await openFile();
      const claimed = io.completion(io.submitWrite(fd, pattern(4096, 1), 0));
      const tokens: number[] = [];
      for (let i = 1; i < 300; i++) tokens.push(io.submitWrite(fd, pattern(4096, i), i * 4096));
      io.flush();
      tokens.push(io.submitDatasync(fd));
      const closing = io.closeIo();
      await closing;
      await io.closeIo();
      expect((await claimed).result).toBe(4096);
      const completions = io.pollCompletions();
      expect(completions.map((c) => c.token).sort((a, b) => a - b)).toEqual(tokens);
      for (const c of completions) expect(c.result).toBe(c.op === 'write' ? 4096 : 0);
      expect(() => io.submitWrite(fd, pattern(1, 1), 0)).toThrow(
        expect.objectContaining({ code: 'WAL_CLOSED' }),
      );
      await expect(io.write(fd, pattern(1, 1), 0)).rejects.toMatchObject({ code: 'WAL_CLOSED' });
    },
  );

  check(
    suite,
    'gives an exclusive lock that rejects a second holder with WAL_LOCKED',
    async ({ io, dir }) => {
      const path = join(dir, 'LOCK');
      const lock = await io.lock(path);
      await expect(io.lock(path)).rejects.toMatchObject({ code: 'WAL_LOCKED' });
      await lock.release();
      await lock.release();
      const again = await io.lock(path);
      await again.release();
    },
  );

  check(suite, 'describes itself', ({ io }) => {
    // A wrapper may name itself or the backend it passes everything to: both are in use.
    const description = io.describe();
    expect(typeof description.backend).toBe('string');
    expect(description.backend.length).toBeGreaterThan(0);
    expect(description.reason.length).toBeGreaterThan(0);
  });
}
