import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, constants, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Errno } from '../contract/errors.js';
import { ioUringForTests } from '../testing/io-uring-for-tests.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { IoUringStorageIo } from './io-uring.js';

const ring = ioUringForTests();
/** The addon as the package builds it, for scripts that load it alone. */
const addon = join(import.meta.dirname, '..', '..', 'build', 'Release', 'walnut_storage_io.node');

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

describe.skipIf(ring.skip !== false)(ring.title('IoUringStorageIo specifics'), () => {
  let dir = '';
  let io: IoUringStorageIo;
  beforeEach(() => {
    dir = tempDir('walnut-uring-');
    io = IoUringStorageIo.create({ entries: 8 });
  });
  afterEach(async () => {
    await io.closeIo();
    removeTempDirs();
  });

  it('runs a callback whose completion a nested poll took in at the next reapCompletions, with no microtask between', async () => {
    const fd = await io.open(join(dir, 'f'), { create: true });
    let ran = 0;
    const first = io.submitWrite(fd, Buffer.alloc(4096, 1), 0);
    io.onCompletion(first, () => ran++);
    io.flush();
    const until = Date.now() + 50;
    while (Date.now() < until) {
      // Let the write finish in the kernel without yielding (no delivery by the event loop).
    }
    // Submitting and claiming another operation polls the ring: the first completion is
    // taken in there, inside completion(), where its callback must not run.
    const second = io.completion(io.submitDatasync(fd));
    expect(ran).toBe(0);
    io.reapCompletions();
    expect(ran).toBe(1);
    expect((await second).result).toBe(0);
    expect(ran).toBe(1);
  });

  it('keeps delivering completions after garbage collection while idle', async () => {
    const fd = await io.open(join(dir, 'f'), { create: true });
    await io.datasync(fd);
    collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 10));
    await io.write(fd, Buffer.alloc(4096, 1), 0);
    await io.datasync(fd);
    expect(await io.size(fd)).toBe(4096);
  });

  it('runs a chain longer than the submission queue in order, and cancels its rest on failure', async () => {
    const fd = await io.open(join(dir, 'f'), { create: true });
    const tokens: number[] = [];
    tokens.push(io.submitWrite(fd, Buffer.alloc(100, 1), 0));
    for (let i = 1; i < 30; i++) {
      tokens.push(io.submitWrite(fd, Buffer.alloc(100, i), i * 100, { linkToPrevious: true }));
    }
    tokens.push(io.submitDatasync(fd, { linkToPrevious: true }));
    const results = await Promise.all(tokens.map((t) => io.completion(t)));
    expect(results.map((c) => c.result)).toEqual([...Array(30).fill(100), 0]);
    const broken = [io.submitWrite(-1, Buffer.alloc(10), 0)];
    for (let i = 0; i < 20; i++) broken.push(io.submitDatasync(fd, { linkToPrevious: true }));
    const outcome = await Promise.all(broken.map((t) => io.completion(t)));
    expect(outcome[0]!.result).toBe(-Errno.EBADF);
    for (const c of outcome.slice(1)) expect(c.result).toBe(-Errno.ECANCELED);
  });

  it('survives a completion queue overflow with thousands of operations in flight', async () => {
    const fd = await io.open(join(dir, 'f'), { create: true });
    const count = 5000;
    for (let i = 0; i < count; i++) io.submitDatasync(fd);
    io.flush();
    await new Promise((resolve) => setTimeout(resolve, 50));
    let collected = 0;
    while (collected < count) collected += (await io.waitCompletions(1)).length;
    expect(collected).toBe(count);
    expect(io.inFlight).toBe(0);
  });

  it('describes the ring it runs', () => {
    const description = io.describe();
    expect(description.backend).toBe('io_uring');
    expect(description.details).toMatchObject({ sqEntries: 8, noDrop: true });
  });

  it('runs with SQPOLL when asked', async () => {
    const polled = IoUringStorageIo.create({ entries: 16, sqpoll: true, sqpollIdleMs: 10 });
    const fd = await polled.open(join(dir, 'p'), { create: true });
    await polled.write(fd, Buffer.alloc(8192, 2), 0);
    await polled.datasync(fd);
    expect(polled.describe().details).toMatchObject({ sqpoll: true });
    await polled.closeIo();
  });

  it('lets a worker thread exit with operations in flight (the cleanup hook drains the ring)', async () => {
    const code = `
        const fs = require('node:fs');
        const b = require(${JSON.stringify(addon)});
        const ring = b.createRing({ entries: 32, sqpoll: false, sqpollIdleMs: 0,
          completions: new Float64Array(64), onCompletions() {} });
        const fd = fs.openSync(${JSON.stringify(join(dir, 'w'))}, 'w+');
        for (let i = 0; i < 200; i++) {
          while (!ring.prepWrite(i, fd, Buffer.alloc(65536, i & 255), i * 65536, false, true)) ring.submit();
        }
        ring.prepFsync(200, fd, true, false);
        ring.submit();
        require('node:worker_threads').parentPort.postMessage(ring.inFlight);
        process.exit(0);`;
    const worker = new Worker(code, { eval: true });
    const inFlight = await new Promise((resolve) => worker.once('message', resolve));
    expect(inFlight).toBeGreaterThan(0);
    expect(await new Promise((resolve) => worker.once('exit', resolve))).toBe(0);
  });

  it('lets a worker that alone loaded the addon end with a ring open, in flight or not', () => {
    // A process of its own whose main thread never loads the addon: the worker's teardown
    // unloads it, and no close callback of the ring's may be due after that (it crashed
    // the process with SIGSEGV).
    const worker = (ending: string) => `
        const fs = require('node:fs');
        const b = require(${JSON.stringify(addon)});
        const ring = b.createRing({ entries: 32, sqpoll: false, sqpollIdleMs: 0,
          completions: new Float64Array(64), onCompletions() {} });
        const fd = fs.openSync(${JSON.stringify(join(dir, 'w'))}, 'w+');
        ring.prepWrite(1, fd, Buffer.alloc(65536, 1), 0, false, true);
        ring.submit();
        ${ending}`;
    const codes = [worker(''), worker('process.exit(0);')];
    const script = `
        const { Worker } = require('node:worker_threads');
        const codes = ${JSON.stringify(codes)};
        (async () => {
          for (let i = 0; i < 6; i++)
            await new Promise((resolve) => new Worker(codes[i % 2], { eval: true }).once('exit', resolve));
          console.log('all ended');
        })();`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect({ status: run.status, signal: run.signal, out: run.stdout.trim() }).toEqual({
      status: 0,
      signal: null,
      out: 'all ended',
    });
  });

  it('keeps an aligned buffer for the kernel when a worker ends with a write from it in flight', async () => {
    // Node frees a worker's external buffers (allocAligned's) before the cleanup hooks drain
    // its rings. The write below waits on a full pipe; without waiting for it, the buffer was
    // freed first and the kernel read unmapped memory (EFAULT) or, in a reused heap block,
    // someone else's bytes, which a direct-I/O write would have put on disk.
    const fifo = join(dir, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const code = `
        const fs = require('node:fs');
        const b = require(${JSON.stringify(addon)});
        const ring = b.createRing({ entries: 8, sqpoll: false, sqpollIdleMs: 0,
          completions: new Float64Array(16), onCompletions() {} });
        const fd = fs.openSync(${JSON.stringify(fifo)}, 'r+');
        const filler = fs.openSync(${JSON.stringify(fifo)}, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
        let parked = 0;
        try {
          for (;;) parked += fs.writeSync(filler, Buffer.alloc(4096, 0x11));
        } catch (error) {
          if (error.code !== 'EAGAIN') throw error;
        }
        // Larger than glibc's largest mmap threshold: freeing it always unmaps it.
        ring.prepWrite(1, fd, b.allocAligned(64 << 20).fill(0x5a), -1, false, true);
        ring.submit();
        require('node:worker_threads').parentPort.postMessage(parked);
        process.exit(0);`;
    const worker = new Worker(code, { eval: true });
    const exit = new Promise<number>((resolve) => worker.once('exit', resolve));
    const parked = await new Promise<number>((resolve) => worker.once('message', resolve));
    let ended = false;
    void exit.then(() => {
      ended = true;
    });
    // Time for the worker to reach its teardown: with the wait it cannot end before the pipe is read.
    await Promise.race([exit, new Promise((resolve) => setTimeout(resolve, 1000))]);
    const reader = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const chunks: Buffer[] = [];
    const deadline = Date.now() + 10_000;
    for (;;) {
      const chunk = Buffer.alloc(65536);
      const n = readOrNothing(reader, chunk);
      if (n > 0) chunks.push(chunk.subarray(0, n));
      else if (ended || Date.now() > deadline) break;
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    closeSync(reader);
    const written = Buffer.concat(chunks).subarray(parked);
    expect(await exit).toBe(0);
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((byte) => byte === 0x5a)).toBe(true);
  });

  it('holds a flock that another process cannot take while this one lives', async () => {
    const path = join(dir, 'LOCK');
    const lock = await io.lock(path);
    const script = `
        const fs = require('node:fs');
        const b = require(${JSON.stringify(addon)});
        const fd = fs.openSync(${JSON.stringify(path)}, 'r+');
        process.stdout.write(String(b.flock(fd, b.constants.LOCK_EX | b.constants.LOCK_NB)));`;
    const whileHeld = execFileSync(process.execPath, ['-e', script]).toString();
    expect(whileHeld).toBe(String(-Errno.EWOULDBLOCK));
    await lock.release();
    expect(execFileSync(process.execPath, ['-e', script]).toString()).toBe('0');
  });
});

/** A read of a non-blocking descriptor: 0 when nothing is there yet. */
function readOrNothing(fd: number, into: Buffer): number {
  try {
    return readSync(fd, into);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return 0;
    throw error;
  }
}
