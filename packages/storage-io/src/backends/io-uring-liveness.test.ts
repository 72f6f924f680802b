import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IoFd, SubmitOptions } from '../contract/types.js';
import { loadNative, type NativeRing, packageRoot } from '../native.js';
import { seededRandom } from '../simulation/tearing.js';
import { ioUringForTests } from '../testing/io-uring-for-tests.js';
import { removeTempDirs, tempDir } from '../testing/temp-dirs.js';
import { IoUringStorageIo } from './io-uring.js';

// Two hangs were reported (an fdatasync after a run of reads; collect() in the
// conformance suite): a completion never reached JavaScript. Both came from the ring's
// completion callback being garbage collected while the ring was idle. These tests
// force a collection at every idle point of realistic workloads on small rings (SQ
// full, CQ overflow, linked chains) and fail within seconds instead of hanging.

const ring = ioUringForTests();

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

/** Longest any single await may take before the test calls it a hang. */
const STALL_MS = 10_000;

async function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const stall = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`stalled: ${what} did not complete within ${STALL_MS} ms`)),
      STALL_MS,
    );
  });
  try {
    return await Promise.race([promise, stall]);
  } finally {
    clearTimeout(timer);
  }
}

describe.skipIf(ring.skip !== false)(ring.title('io_uring completion liveness'), () => {
  let dir = '';
  beforeEach(() => {
    dir = tempDir('walnut-uring-liveness-');
  });
  afterEach(removeTempDirs);

  it('completes an fdatasync after a run of reads with collections in between', async () => {
    const io = IoUringStorageIo.create({ entries: 8 });
    const path = join(dir, 'f');
    writeFileSync(path, Buffer.alloc(4096, 1));
    const into = Buffer.alloc(64);
    for (let i = 0; i < 100; i++) {
      const fd = await io.open(path);
      await within(io.read(fd, into, 0), `read ${i}`);
      await io.close(fd);
      if (i % 25 === 0) collectGarbage();
    }
    const fd = await io.open(path);
    collectGarbage();
    await within(io.datasync(fd), 'the fdatasync after the reads');
    await io.close(fd);
    await within(io.closeIo(), 'closeIo');
  });

  it('delivers to a callback that only its ring holds, after a collection while idle', async () => {
    // The io_uring proof passes its callback to createRing and keeps nothing else of it: a
    // scavenge before its read was submitted lost the read's completion (1 run in 15).
    let delivered: (count: number) => void = () => undefined;
    const { ring, callback } = ringWithUnheldCallback((count) => delivered(count));
    await new Promise(setImmediate); // a WeakRef keeps its target until the job ends
    collectGarbage();
    expect(callback.deref()).toBeDefined();
    const fd = openSync(join(packageRoot, 'package.json'), 'r');
    try {
      const came = new Promise<number>((resolve) => {
        delivered = resolve;
      });
      ring.prepRead(1, fd, Buffer.alloc(1), 0, false);
      expect(ring.submit()).toBe(1);
      expect(await within(came, 'the read on a ring idle through a collection')).toBe(1);
    } finally {
      ring.close();
      closeSync(fd);
    }
  });

  it('delivers every completion of mixed bursts on short-lived small rings', async () => {
    const random = seededRandom(20261122);
    const pick = (n: number) => Math.floor(random() * n);
    for (let instance = 0; instance < 4; instance++) {
      const io = IoUringStorageIo.create({ entries: 8 });
      const fd = await io.open(join(dir, `f${instance}`), { create: true });
      for (let round = 0; round < 4; round++) {
        collectGarbage();
        const claimed: Promise<unknown>[] = [];
        let unclaimed = 0;
        const count = 50 + pick(250);
        for (let i = 0; i < count; i++) {
          const token = submitRandom(io, fd, pick, i);
          if (pick(3) === 0) claimed.push(io.completion(token));
          else unclaimed++;
        }
        const helpers = [io.datasync(fd), io.write(fd, Buffer.alloc(512, round), pick(1 << 20))];
        let collected = 0;
        while (collected < unclaimed) {
          const batch = await within(
            io.waitCompletions(1),
            `instance ${instance} round ${round}: completion ${collected + 1} of ${unclaimed}`,
          );
          expect(batch.length).toBeGreaterThan(0);
          collected += batch.length;
        }
        await within(Promise.all(claimed), `instance ${instance} round ${round}: claims`);
        await within(Promise.all(helpers), `instance ${instance} round ${round}: helpers`);
        expect(io.inFlight).toBe(0);
      }
      await io.close(fd);
      await within(io.closeIo(), `instance ${instance}: closeIo`);
    }
  });
});

/** A ring whose callback nothing but the ring holds, and a way to see whether it still lives. */
function ringWithUnheldCallback(relay: (count: number) => void): {
  ring: NativeRing;
  callback: WeakRef<(count: number) => void>;
} {
  const onCompletions = (count: number) => relay(count);
  const ring = loadNative().binding!.createRing({
    entries: 2,
    sqpoll: false,
    sqpollIdleMs: 0,
    completions: new Float64Array(2),
    onCompletions,
  });
  return { ring, callback: new WeakRef(onCompletions) };
}

/** One write, read, writev, fdatasync or fsync at a random place, linked one time in four. */
function submitRandom(
  io: IoUringStorageIo,
  fd: IoFd,
  pick: (n: number) => number,
  i: number,
): number {
  const options: SubmitOptions | undefined = pick(4) === 0 ? { linkToPrevious: true } : undefined;
  const offset = pick(1 << 20);
  switch (pick(5)) {
    case 0:
      return io.submitWrite(fd, Buffer.alloc(1 + pick(8192), i & 0xff), offset, options);
    case 1:
      return io.submitRead(fd, Buffer.alloc(1 + pick(4096)), offset, options);
    case 2:
      return io.submitWritev(fd, [Buffer.alloc(100, 1), Buffer.alloc(200, 2)], offset, options);
    case 3:
      return io.submitDatasync(fd, options);
    default:
      return io.submitFsync(fd, options);
  }
}
