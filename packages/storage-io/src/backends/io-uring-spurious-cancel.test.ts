import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Errno } from '../contract/errors.js';
import type { IoCompletion, StorageIo } from '../contract/types.js';
import type { HeldFd, NativeBinding, NativeRing, NativeRingOptions } from '../native.js';
import { ioUringForTests } from '../testing/io-uring-for-tests.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { IoUringStorageIo } from './io-uring.js';
import { SyncFsStorageIo } from './sync-fs.js';

/**
 * The real ring, with a hand on it: an SQE chosen by token is sent to fd -1 instead
 * (so the kernel really fails it and really cancels what is linked behind it) and its
 * -EBADF is reported as -ECANCELED — what io-wq reports when it gives up on work because
 * it could not create a worker thread. A completion can also be held back until another
 * one was handed over, to deliver a chain's CQEs out of order.
 */
const kernel = vi.hoisted(() => {
  const plan = {
    /** token → how many more of its SQEs the "kernel" cancels by itself. */
    cancel: new Map<number, number>(),
    /** token → the token whose completion must be handed over before its own. */
    holdUntil: new Map<number, number>(),
    /** Every prepared SQE's token, in order. */
    prepared: [] as number[],
    /** Completions that were delivered after a later one. */
    reordered: 0,
  };
  const cancelled = new Set<number>();
  const seen = new Set<number>();

  function wrapRing(
    binding: NativeBinding,
    options: NativeRingOptions,
    ecanceled: number,
    ebadf: number,
  ): NativeRing {
    const out = options.completions;
    let held: [number, number][] = [];
    const rewrite = (count: number): number => {
      const pairs: [number, number][] = [];
      for (let i = 0; i < count; i++) {
        const token = out[2 * i]!;
        let result = out[2 * i + 1]!;
        if (cancelled.delete(token) && result === -ebadf) result = -ecanceled;
        const after = plan.holdUntil.get(token);
        if (after !== undefined && !seen.has(after)) {
          held.push([token, result]);
          continue;
        }
        seen.add(token);
        pairs.push([token, result]);
        const due = held.filter(([t]) => seen.has(plan.holdUntil.get(t)!));
        if (due.length > 0) {
          held = held.filter((pair) => !due.includes(pair));
          plan.reordered += due.length;
          for (const [t, r] of due) {
            seen.add(t);
            pairs.push([t, r]);
          }
        }
      }
      pairs.forEach(([token, result], i) => {
        out[2 * i] = token;
        out[2 * i + 1] = result;
      });
      return pairs.length;
    };
    const relay = (count: number) => options.onCompletions(rewrite(count));
    const ring = binding.createRing({ ...options, onCompletions: relay });
    const target = (token: number, fd: number) => ((plan.cancel.get(token) ?? 0) > 0 ? -1 : fd);
    const prepared = (token: number, fd: number, queued: boolean): boolean => {
      if (!queued) return false;
      plan.prepared.push(token);
      if (fd === -1 && (plan.cancel.get(token) ?? 0) > 0) {
        plan.cancel.set(token, plan.cancel.get(token)! - 1);
        cancelled.add(token);
      }
      return true;
    };
    const wrapped: NativeRing = {
      prepWrite(token, fd, data, offset, link, punt, dsync) {
        const to = target(token, fd);
        return prepared(token, to, ring.prepWrite(token, to, data, offset, link, punt, dsync));
      },
      prepWritev(token, fd, buffers, offset, link, punt, dsync) {
        const to = target(token, fd);
        return prepared(token, to, ring.prepWritev(token, to, buffers, offset, link, punt, dsync));
      },
      prepRead(token, fd, into, offset, link) {
        const to = target(token, fd);
        return prepared(token, to, ring.prepRead(token, to, into, offset, link));
      },
      prepFsync(token, fd, datasync, link) {
        const to = target(token, fd);
        return prepared(token, to, ring.prepFsync(token, to, datasync, link));
      },
      prepFallocate(token, fd, offset, length, link) {
        const to = target(token, fd);
        return prepared(token, to, ring.prepFallocate(token, to, offset, length, link));
      },
      prepWriteback(token, fd, offset, length, link) {
        const to = target(token, fd);
        return prepared(token, to, ring.prepWriteback(token, to, offset, length, link));
      },
      submit: () => ring.submit(),
      reap: () => rewrite(ring.reap()),
      get sqSpace() {
        return ring.sqSpace;
      },
      get sqEntries() {
        return ring.sqEntries;
      },
      get inFlight() {
        return ring.inFlight;
      },
      close: () => ring.close(),
      info: () => ring.info(),
    };
    return wrapped;
  }

  function reset(): void {
    plan.cancel.clear();
    plan.holdUntil.clear();
    plan.prepared.length = 0;
    plan.reordered = 0;
    cancelled.clear();
    seen.clear();
  }

  return { plan, wrapRing, reset };
});

vi.mock('../native.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../native.js')>();
  const { constants } = await import('node:os');
  return {
    ...real,
    loadNative: () => {
      const load = real.loadNative();
      const binding = load.binding;
      if (binding === null) return load;
      return {
        ...load,
        binding: {
          probe: () => binding.probe(),
          flock: (fd: number, operation: number) => binding.flock(fd, operation),
          holdFd: (fd: number) => binding.holdFd(fd),
          releaseHeldFd: (held: HeldFd) => binding.releaseHeldFd(held),
          fallocate: (fd: number, mode: number, offset: number, length: number) =>
            binding.fallocate(fd, mode, offset, length),
          constants: binding.constants,
          createRing: (options: NativeRingOptions) =>
            kernel.wrapRing(binding, options, constants.errno.ECANCELED, constants.errno.EBADF),
        },
      };
    },
  };
});

const ring = ioUringForTests();
const ECANCELED = -Errno.ECANCELED;

/** How often `token` was put into the SQ. */
function timesPrepared(token: number): number {
  return kernel.plan.prepared.filter((t) => t === token).length;
}

describe.skipIf(ring.skip !== false)(
  ring.title('io_uring resends what the kernel cancelled by itself'),
  () => {
    let dir = '';
    let io: IoUringStorageIo;
    beforeEach(() => {
      kernel.reset();
      dir = tempDir('walnut-uring-cancel-');
      io = IoUringStorageIo.create({ entries: 8 });
    });
    afterEach(async () => {
      await io.closeIo();
      removeTempDirs();
    });

    async function collect(count: number): Promise<IoCompletion[]> {
      const all: IoCompletion[] = [];
      while (all.length < count) all.push(...(await io.waitCompletions(count - all.length)));
      return all;
    }

    it('resends an unlinked write the kernel cancelled, and its data reaches the file', async () => {
      const path = join(dir, 'f');
      const fd = await io.open(path, { create: true });
      const data = Buffer.alloc(4096, 7);
      const token = io.submitWrite(fd, data, 0);
      kernel.plan.cancel.set(token, 1);
      const completion = await io.completion(token);
      expect(completion.result).toBe(4096);
      expect(timesPrepared(token)).toBe(2);
      expect(readFileSync(path).equals(data)).toBe(true);
    });

    it('resends an unlinked fsync the kernel cancelled', async () => {
      const fd = await io.open(join(dir, 'f'), { create: true });
      const token = io.submitFsync(fd);
      kernel.plan.cancel.set(token, 3);
      expect((await io.completion(token)).result).toBe(0);
      expect(timesPrepared(token)).toBe(4);
    });

    it('resends a write → fdatasync chain whose head the kernel cancelled, in order', async () => {
      const path = join(dir, 'f');
      const fd = await io.open(path, { create: true });
      const write = io.submitWrite(fd, Buffer.from('durable'), 0);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      kernel.plan.cancel.set(write, 2);
      const completions = await collect(2);
      expect(completions.map((c) => [c.token, c.result])).toEqual([
        [write, 7],
        [sync, 0],
      ]);
      expect(timesPrepared(write)).toBe(3);
      expect(timesPrepared(sync)).toBe(3);
      expect(io.describe().details).toMatchObject({ resentAfterKernelCancel: 4 });
      expect(readFileSync(path, 'utf8')).toBe('durable');
    });

    it('resends the middle of a chain with what follows it, after the head succeeded once', async () => {
      const path = join(dir, 'f');
      const fd = await io.open(path, { create: true });
      const first = io.submitWrite(fd, Buffer.from('ab'), 0);
      const second = io.submitWrite(fd, Buffer.from('cd'), 2, { linkToPrevious: true });
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      kernel.plan.cancel.set(second, 1);
      const completions = await collect(3);
      expect(completions.map((c) => [c.token, c.result])).toEqual([
        [first, 2],
        [second, 2],
        [sync, 0],
      ]);
      expect([first, second, sync].map(timesPrepared)).toEqual([1, 2, 2]);
      expect(readFileSync(path, 'utf8')).toBe('abcd');
    });

    it('waits for the cancelled head when the kernel reports its follower first', async () => {
      const fd = await io.open(join(dir, 'f'), { create: true });
      const write = io.submitWrite(fd, Buffer.alloc(512, 1), 0);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      kernel.plan.cancel.set(write, 1);
      kernel.plan.holdUntil.set(write, sync);
      const completions = await collect(2);
      expect(kernel.plan.reordered).toBeGreaterThan(0);
      expect(completions.map((c) => [c.token, c.result])).toEqual([
        [write, 512],
        [sync, 0],
      ]);
      expect(timesPrepared(sync)).toBe(2);
    });

    it('keeps an operation held behind the cancelled one (not yet in the kernel) linked to it', async () => {
      const path = join(dir, 'f');
      const fd = await io.open(path, { create: true });
      const write = io.submitWrite(fd, Buffer.from('xyz'), 0);
      kernel.plan.cancel.set(write, 1);
      io.flush();
      // A separate flush: this fdatasync waits in JS for the write's completion.
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      io.flush();
      const completions = await collect(2);
      expect(completions.map((c) => [c.token, c.result])).toEqual([
        [write, 3],
        [sync, 0],
      ]);
      expect(timesPrepared(sync)).toBe(1);
    });

    it('still cancels the follower of a write that really failed, without resending either', async () => {
      const fd = await io.open(join(dir, 'f'), { create: true });
      const bad = io.submitWrite(-1, Buffer.alloc(16), 0);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      const completions = await collect(2);
      expect(completions.map((c) => [c.token, c.result])).toEqual([
        [bad, -Errno.EBADF],
        [sync, ECANCELED],
      ]);
      expect([bad, sync].map(timesPrepared)).toEqual([1, 1]);
      expect(io.describe().details).toMatchObject({ resentAfterKernelCancel: 0 });
      // The failure is the previous submission's outcome: the next linked one is cancelled.
      const after = io.submitDatasync(fd, { linkToPrevious: true });
      expect((await io.completion(after)).result).toBe(ECANCELED);
    });

    it('delivers -ECANCELED once the budget of 8 resends is spent, and cancels what follows', async () => {
      const fd = await io.open(join(dir, 'f'), { create: true });
      const write = io.submitWrite(fd, Buffer.alloc(64), 0);
      const sync = io.submitDatasync(fd, { linkToPrevious: true });
      kernel.plan.cancel.set(write, 100);
      const completions = await collect(2);
      expect(completions.map((c) => [c.token, c.result])).toEqual([
        [write, ECANCELED],
        [sync, ECANCELED],
      ]);
      expect(timesPrepared(write)).toBe(9);
      const after = io.submitDatasync(fd, { linkToPrevious: true });
      expect((await io.completion(after)).result).toBe(ECANCELED);
      const within = io.submitWrite(fd, Buffer.alloc(64), 0);
      kernel.plan.cancel.set(within, 8);
      expect((await io.completion(within)).result).toBe(64);
    });

    it('gives every submission the in-order result while the kernel cancels SQEs at random', async () => {
      const model = new SyncFsStorageIo();
      const steps = fc.array(
        fc.record({
          kind: fc.constantFrom('write', 'write', 'sync', 'bad-write'),
          link: fc.boolean(),
          flushAfter: fc.boolean(),
          cancels: fc.constantFrom(0, 0, 1, 2),
        }),
        { minLength: 1, maxLength: 30 },
      );
      let round = 0;
      await fc.assert(
        fc.asyncProperty(steps, async (plan) => {
          round++;
          const run = async (target: StorageIo, name: string, sabotage: boolean) => {
            const fd = await target.open(join(dir, name), { create: true });
            const tokens: number[] = [];
            plan.forEach((s, i) => {
              const options = { linkToPrevious: s.link };
              tokens.push(
                s.kind === 'sync'
                  ? target.submitDatasync(fd, options)
                  : target.submitWrite(
                      s.kind === 'bad-write' ? 1_000_000 : fd,
                      Buffer.alloc(100, i),
                      i * 100,
                      options,
                    ),
              );
              if (sabotage && s.cancels > 0) kernel.plan.cancel.set(tokens.at(-1)!, s.cancels);
              if (s.flushAfter) target.flush();
            });
            const results = await Promise.all(tokens.map((t) => target.completion(t)));
            await target.close(fd);
            return results.map((c) => c.result);
          };
          const expected = await run(model, `model-${round}`, false);
          expect(await run(io, `uring-${round}`, true)).toEqual(expected);
          expect(
            readFileSync(join(dir, `uring-${round}`)).equals(
              readFileSync(join(dir, `model-${round}`)),
            ),
          ).toBe(true);
        }),
        { numRuns: 40 },
      );
      await model.closeIo();
    });
  },
);
