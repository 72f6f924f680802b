import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { loadNative, packageRoot } from '../native.js';
import { ioUringRuntimeGate } from './runtime-gate.js';

/** What the proof found: whether io_uring serves here, in words for `describe().reason`. */
export interface IoUringProof {
  readonly works: boolean;
  readonly reason: string;
}

/**
 * How long a test completion may take to come back through the event loop. On Node it takes
 * well under a millisecond; the bound only has to end the wait where nothing ever comes
 * back, and leaves room for a busy loop or an emulated CPU.
 */
const DELIVERY_BOUND_MS = 2000;

let running: Promise<IoUringProof> | undefined;
let settled: IoUringProof | undefined;

/** The proof's finding once it ran in this process, else undefined. */
export function ioUringProof(): IoUringProof | undefined {
  return settled;
}

/**
 * Proves, once per process, that io_uring works in this runtime: a ring is created, one
 * read (a byte of this package's package.json) is submitted, and its completion must come
 * back through the event loop, the way every completion of the backend will, within
 * DELIVERY_BOUND_MS. Never throws.
 */
export function proveIoUring(): Promise<IoUringProof> {
  running ??= attempt().then((proof) => {
    settled = proof;
    return proof;
  });
  return running;
}

async function attempt(): Promise<IoUringProof> {
  const refused = ioUringRuntimeGate();
  if (refused !== null) return { works: false, reason: refused };
  const { binding, reason } = loadNative();
  if (binding === null) return { works: false, reason: `io_uring is unavailable: ${reason}` };
  const probe = binding.probe();
  if (probe !== null) return { works: false, reason: `io_uring is unavailable: ${probe}` };
  const completions = new Float64Array(2);
  let delivered: (() => void) | undefined;
  let ring: ReturnType<typeof binding.createRing>;
  let fd: number;
  try {
    fd = openSync(join(packageRoot, 'package.json'), 'r');
  } catch (error) {
    return { works: false, reason: `the test read could not open its file (${message(error)})` };
  }
  try {
    ring = binding.createRing({
      entries: 2,
      sqpoll: false,
      sqpollIdleMs: 0,
      completions,
      onCompletions: () => delivered?.(),
    });
  } catch (error) {
    closeSync(fd);
    return {
      works: false,
      reason: `io_uring is unavailable: creating a ring failed (${message(error)})`,
    };
  }
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const came = new Promise<boolean>((resolve) => {
      delivered = () => resolve(true);
      // After the timers phase comes the poll phase, then the check phase: a loop the
      // application blocked past the bound still gets to deliver a completion that is ready.
      timer = setTimeout(() => setImmediate(() => resolve(false)), DELIVERY_BOUND_MS);
    });
    ring.prepRead(1, fd, Buffer.alloc(1), 0, false);
    const submitted = ring.submit();
    if (submitted < 0)
      return { works: false, reason: `io_uring_enter failed (errno ${-submitted})` };
    const inTime = await came;
    const ms = (performance.now() - started).toFixed(1);
    if (!inTime) {
      const reaped = ring.reap(true);
      return {
        works: false,
        reason:
          reaped > 0
            ? `a test read completed in the kernel but its completion never came back through the event loop within ${DELIVERY_BOUND_MS} ms (does this runtime run libuv's uv_poll callbacks?)`
            : `a test read did not complete within ${DELIVERY_BOUND_MS} ms`,
      };
    }
    if (completions[1]! < 0)
      return {
        works: false,
        reason: `a test read through io_uring failed (errno ${-completions[1]!})`,
      };
    return {
      works: true,
      reason: `a test read came back through the event loop in ${ms} ms`,
    };
  } finally {
    clearTimeout(timer);
    ring.close();
    closeSync(fd);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
