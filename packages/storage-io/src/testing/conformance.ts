import { existsSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WalError, WalErrorCode } from '@walnut/codec';
import {
  alignedBuffer,
  alignedBufferUnavailable,
  DIRECT_IO_ALIGNMENT,
} from '../contract/aligned.js';
import { Errno } from '../contract/errors.js';
import { readFileHeads } from '../contract/file-heads.js';
import { readFully } from '../contract/read-fully.js';
import type { FileHead, IoCompletion, IoFd, StorageIo } from '../contract/types.js';
import { FaultyStorageIo } from '../simulation/faulty.js';

type Vitest = typeof import('vitest');
// Importing vitest outside its runner throws; loaded lazily, this module can be imported
// anywhere (a bundler's scan, a REPL, a plain script) and only running the suite needs vitest.
const loaded: Vitest | Error = await import('vitest').catch((error: unknown) =>
  error instanceof Error ? error : new Error(String(error)),
);

function vitest(): Vitest {
  if (loaded instanceof Error) {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `the StorageIo conformance suite runs inside vitest (>= 3.2.4): call runStorageIoConformance() from a test file that \`vitest run\` executes (${loaded.message.split('\n')[0]})`,
      { cause: loaded },
    );
  }
  return loaded;
}

/** Vitest's `name` (callable, and with its properties such as `expect.fail`), looked up when used. */
function lazy<K extends 'describe' | 'it' | 'expect' | 'beforeEach' | 'afterEach'>(
  name: K,
): Vitest[K] {
  const target = (() => undefined) as unknown as Vitest[K];
  return new Proxy(target, {
    apply: (_target, thisArg, args) =>
      Reflect.apply(vitest()[name] as (...a: unknown[]) => unknown, thisArg, args),
    get: (_target, property) => Reflect.get(vitest()[name] as object, property),
  });
}

const describe = lazy('describe');
const it = lazy('it');
const expect = lazy('expect');
const beforeEach = lazy('beforeEach');
const afterEach = lazy('afterEach');

export interface ConformanceOptions {
  /** When set, the suite is registered but skipped, with this reason in its title. */
  readonly skip?: string | false;
  /**
   * Reads the durable image of a file (what a power loss would leave), for backends
   * that can show it (memory). Enables the "sync makes writes durable" checks.
   */
  readonly durableImage?: (io: StorageIo, path: string) => Buffer | null;
  /** Per-test timeout in ms (default 30 000). */
  readonly timeoutMs?: number;
}

const { EBADF, ECANCELED, EINVAL, EOPNOTSUPP } = Errno;
const KiB = 1024;
const MiB = 1024 * KiB;

function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buffer[i] = (i * 31 + seed * 7) & 0xff;
  return buffer;
}

/** Byte equality without vitest's element-wise deep compare (slow on large buffers). */
export function expectBytes(actual: Uint8Array | null, expected: Uint8Array): void {
  expect(actual).not.toBeNull();
  const a = Buffer.from(actual!.buffer, actual!.byteOffset, actual!.byteLength);
  if (a.equals(expected)) return;
  let first = 0;
  while (first < Math.min(a.length, expected.length) && a[first] === expected[first]) first++;
  expect.fail(
    `bytes differ: lengths ${a.length} vs ${expected.length}, first difference at offset ${first}`,
  );
}

/** Descriptors this process holds, where the backend's files are the system's (else null). */
function openDescriptorCount(io: StorageIo): number | null {
  return io.filesOnDisk === false || !existsSync('/proc/self/fd')
    ? null
    : readdirSync('/proc/self/fd').length;
}

/** Collects completions until `count` arrived (never spins: each wait is a promise). */
async function collect(io: StorageIo, count: number): Promise<IoCompletion[]> {
  const all: IoCompletion[] = [];
  while (all.length < count) {
    const batch = await io.waitCompletions(1);
    if (batch.length === 0) throw new Error(`expected ${count} completions, got ${all.length}`);
    all.push(...batch);
  }
  return all;
}

/**
 * Registers vitest tests that check a StorageIo backend against the contract in
 * types.ts. `factory` returns a fresh instance per test; the suite closes it.
 */
export function runStorageIoConformance(
  name: string,
  factory: () => StorageIo | Promise<StorageIo>,
  options: ConformanceOptions = {},
): void {
  const title = options.skip
    ? `${name} conformance (skipped: ${options.skip})`
    : `${name} conformance`;
  const suite = options.skip ? describe.skip : describe;
  const timeout = options.timeoutMs ?? 30_000;

  suite(title, () => {
    let io: StorageIo;
    let dir: string;
    let counter = 0;

    beforeEach(async () => {
      io = await factory();
      dir = join(tmpdir(), `walnut-conformance-${process.pid}-${Date.now()}-${counter++}`);
      await io.mkdir(dir);
    });

    afterEach(async () => {
      await io.closeIo();
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch (error) {
        // Windows keeps a deleted file, and so its directory, while a descriptor is open on
        // it, and cases leave theirs to the process's end: the directory goes with the temp dir.
        if (process.platform !== 'win32' || (error as { code?: unknown }).code !== 'ENOTEMPTY') {
          throw error;
        }
      }
    });

    async function openFile(file = 'data'): Promise<IoFd> {
      return io.open(join(dir, file), { create: true });
    }

    it('hands out a distinct token for every submission, from one counter', {
      timeout,
    }, async () => {
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
    });

    it('reports token, op, fd, bytes asked and result in every completion', {
      timeout,
    }, async () => {
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
    });

    it('pollCompletions never blocks and waitCompletions resolves once min are ready', {
      timeout,
    }, async () => {
      const fd = await openFile();
      expect(io.pollCompletions()).toEqual([]);
      for (let i = 0; i < 8; i++) io.submitWrite(fd, pattern(512, i), i * 512);
      expect(io.flush()).toBe(8);
      expect(io.flush()).toBe(0);
      const first = await io.waitCompletions(8);
      const rest = first.length < 8 ? await collect(io, 8 - first.length) : [];
      expect(first.length + rest.length).toBe(8);
      expect(await io.waitCompletions(1)).toEqual([]);
    });

    it('reports a short transfer as a byte count, not an error', { timeout }, async () => {
      const fd = await openFile();
      await io.write(fd, pattern(700, 4), 0);
      const into = Buffer.alloc(4096);
      const token = io.submitRead(fd, into, 500);
      const completion = await io.completion(token);
      expect(completion.result).toBe(200);
      expectBytes(into.subarray(0, 200), pattern(700, 4).subarray(500));
    });

    it('write() finishes a write the backend cut short', { timeout }, async () => {
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

    it('completes failures with -errno: bad fd, and reading past the end yields 0 bytes', {
      timeout,
    }, async () => {
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
    });

    it('a sync covers every write that completed before it was submitted', {
      timeout,
    }, async () => {
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
    });

    it('runs a write→fdatasync chain: the sync completes after the write succeeded', {
      timeout,
    }, async () => {
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
    });

    it('a dsync write or writev is durable when it completes, where dsyncWrites says so', {
      timeout,
    }, async () => {
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
    });

    it('a broken chain completes the sync with an error, never with success', {
      timeout,
    }, async () => {
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
    });

    it('keeps at least 1024 operations in flight', { timeout }, async () => {
      const fd = await openFile();
      const count = 2048;
      const block = 4096;
      const tokens = new Set<number>();
      for (let i = 0; i < count; i++) {
        const data = Buffer.alloc(block, i & 0xff);
        tokens.add(io.submitWrite(fd, data, i * block));
      }
      expect(io.inFlight).toBe(count);
      const completions = await collect(io, count);
      expect(completions).toHaveLength(count);
      for (const c of completions) {
        expect(tokens.has(c.token)).toBe(true);
        expect(c.result).toBe(block);
      }
      expect(await io.size(fd)).toBe(count * block);
      const probe = Buffer.alloc(block);
      await readFully(io, fd, probe, 1234 * block);
      expectBytes(probe, Buffer.alloc(block, 1234 & 0xff));
    });

    it('writes a single 64 MiB buffer', { timeout }, async () => {
      const fd = await openFile();
      const size = 64 * MiB;
      const data = Buffer.allocUnsafe(size);
      for (let i = 0; i < size; i += 4096) data.fill(i / 4096, i, i + 4096);
      expect(await io.write(fd, data, 0)).toBe(size);
      await io.datasync(fd);
      expect(await io.size(fd)).toBe(size);
      const tail = Buffer.alloc(4096);
      expect(await readFully(io, fd, tail, size - 4096)).toBe(4096);
      expectBytes(tail, data.subarray(size - 4096));
    });

    it('serves promise helpers from many interleaved callers', { timeout }, async () => {
      const fd = await openFile();
      const callers = 64;
      const region = 3000;
      const unclaimed = io.submitFsync(fd);
      await Promise.all(
        Array.from({ length: callers }, async (_, i) => {
          const data = pattern(region, i);
          await io.write(fd, data, i * region);
          await io.datasync(fd);
          const back = Buffer.alloc(region);
          expect(await readFully(io, fd, back, i * region)).toBe(region);
          expectBytes(back, data);
        }),
      );
      const leftovers = await io.waitCompletions(1);
      expect(leftovers.map((c) => c.token)).toEqual([unclaimed]);
      expect(io.inFlight).toBe(0);
    });

    it('rejects completion() for unknown or already claimed tokens', { timeout }, async () => {
      const fd = await openFile();
      const token = io.submitDatasync(fd);
      const claimed = io.completion(token);
      await expect(io.completion(token)).rejects.toMatchObject({ code: 'WAL_BAD_ARGUMENT' });
      expect((await claimed).result).toBe(0);
      await expect(io.completion(token)).rejects.toMatchObject({ code: 'WAL_BAD_ARGUMENT' });
    });

    it('onCompletion calls back once per claimed token, never inside the claiming call', {
      timeout,
    }, async () => {
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
    });

    it('reapCompletions hands over, synchronously, what is already complete', {
      timeout,
    }, async () => {
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
    });

    it('opens a file as a submission, whose descriptor a loop that never yields gets', {
      timeout,
    }, async () => {
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
    });

    it('closes with work in flight: everything completes, later submissions fail', {
      timeout,
    }, async () => {
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
    });

    it('manages names: mkdir, readdir, stat, rename, unlink, syncDirectory', {
      timeout,
    }, async () => {
      const sub = join(dir, 'a', 'b');
      await io.mkdir(sub);
      await io.mkdir(sub);
      const fd = await io.open(join(sub, 'x'), { create: true });
      await io.write(fd, pattern(10, 1), 0);
      await io.close(fd);
      await io.rename(join(sub, 'x'), join(sub, 'y'));
      await io.syncDirectory(sub);
      expect(await io.readdir(sub)).toEqual(['y']);
      expect(await io.stat(join(sub, 'y'))).toEqual({ size: 10 });
      expect(await io.stat(join(sub, 'x'))).toBeNull();
      await expect(
        io.open(join(sub, 'y'), { create: true, exclusive: true }),
      ).rejects.toMatchObject({
        code: 'WAL_IO',
        details: { errno: Errno.EEXIST },
      });
      await io.unlink(join(sub, 'y'));
      expect(await io.readdir(sub)).toEqual([]);
      await expect(io.readdir(join(dir, 'missing'))).rejects.toMatchObject({
        code: 'WAL_IO',
        details: { errno: Errno.ENOENT },
      });
      await expect(io.open(join(dir, 'missing'))).rejects.toMatchObject({ code: 'WAL_IO' });
    });

    it('truncates, reports sizes and preallocates or says it cannot', { timeout }, async () => {
      const fd = await openFile();
      await io.write(fd, pattern(5000, 1), 0);
      await io.truncate(fd, 1000);
      expect(await io.size(fd)).toBe(1000);
      const allocated = await io.completion(io.submitFallocate(fd, 0, 64 * KiB));
      if (allocated.result === 0) {
        expect(await io.size(fd)).toBe(64 * KiB);
      } else {
        expect(allocated.result).toBe(-EOPNOTSUPP);
      }
    });

    it('reads the heads of many files at once: bytes, sizes, each failure in its place', {
      timeout,
    }, async () => {
      const files = { long: pattern(5000, 2), short: pattern(10, 3), empty: Buffer.alloc(0) };
      for (const [file, bytes] of Object.entries(files)) {
        const fd = await openFile(file);
        if (bytes.length > 0) await io.write(fd, bytes, 0);
        await io.close(fd);
      }
      const descriptors = openDescriptorCount(io);
      const heads = await readFileHeads(
        io,
        ['long', 'missing', 'short', 'empty'].map((file) => join(dir, file)),
        64,
      );
      expect(heads).toHaveLength(4);
      const [long, missing, short, empty] = heads as [FileHead, Error, FileHead, FileHead];
      expect(long.size).toBe(5000);
      expectBytes(long.bytes, files.long.subarray(0, 64));
      expect(missing).toMatchObject({ code: 'WAL_IO', details: { errno: Errno.ENOENT } });
      expect(short.size).toBe(10);
      expectBytes(short.bytes, files.short);
      expect(empty).toMatchObject({ size: 0, bytes: Buffer.alloc(0) });
      expect(openDescriptorCount(io)).toBe(descriptors);
    });

    it('starts writeback or says it cannot, changing neither the bytes nor what is durable', {
      timeout,
    }, async () => {
      const path = join(dir, 'data');
      const fd = await io.open(path, { create: true });
      const data = pattern(3 * 4096 + 100, 4);
      await io.write(fd, data, 0);
      const started = await io.completion(io.submitWriteback(fd, 0, data.length));
      expect(started).toMatchObject({ op: 'writeback', requested: data.length });
      expect([0, -EOPNOTSUPP]).toContain(started.result);
      if (options.durableImage) expect(options.durableImage(io, path)?.length ?? 0).toBe(0);
      const back = Buffer.alloc(data.length);
      expect(await readFully(io, fd, back, 0)).toBe(data.length);
      expectBytes(back, data);
      expect((await io.completion(io.submitWriteback(1_000_000, 0, 4096))).result).toBeLessThan(0);
      expect(() => io.submitWriteback(fd, 0, 0)).toThrow(WalError);
    });

    it('does direct I/O from aligned buffers and refuses misaligned transfers with EINVAL', {
      timeout,
    }, async () => {
      if (alignedBufferUnavailable() !== null) {
        expect(() => alignedBuffer(DIRECT_IO_ALIGNMENT)).toThrow(WalError);
        return;
      }
      const path = join(dir, 'direct');
      let fd: IoFd;
      try {
        fd = await io.open(path, { create: true, direct: true });
      } catch (error) {
        // A file system without O_DIRECT (tmpfs) refuses the open itself.
        expect(error).toMatchObject({ code: 'WAL_IO', details: { errno: EINVAL } });
        return;
      }
      const block = alignedBuffer(2 * DIRECT_IO_ALIGNMENT);
      block.set(pattern(block.length, 9));
      expect(await io.write(fd, block, DIRECT_IO_ALIGNMENT)).toBe(block.length);
      const back = alignedBuffer(block.length);
      expect(await io.read(fd, back, DIRECT_IO_ALIGNMENT)).toBe(back.length);
      expectBytes(back, block);
      const misaligned = [
        io.submitWrite(fd, block, 100),
        io.submitWrite(fd, block.subarray(0, 100), 0),
        io.submitWrite(fd, block.subarray(100, 100 + DIRECT_IO_ALIGNMENT), 0),
        io.submitRead(fd, back, 7),
      ];
      for (const token of misaligned) {
        expect((await io.completion(token)).result).toBe(-EINVAL);
      }
      await io.close(fd);
    });

    it('gives an exclusive lock that rejects a second holder with WAL_LOCKED', {
      timeout,
    }, async () => {
      const path = join(dir, 'LOCK');
      const lock = await io.lock(path);
      await expect(io.lock(path)).rejects.toMatchObject({ code: 'WAL_LOCKED' });
      await lock.release();
      await lock.release();
      const again = await io.lock(path);
      await again.release();
    });

    it('describes itself', { timeout }, () => {
      // A wrapper may name itself or the backend it passes everything to: both are in use.
      const description = io.describe();
      expect(typeof description.backend).toBe('string');
      expect(description.backend.length).toBeGreaterThan(0);
      expect(description.reason.length).toBeGreaterThan(0);
    });
  });
}
