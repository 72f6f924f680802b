import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One in-flight-capable io_uring instance, as the addon exposes it. */
export interface NativeRing {
  /**
   * Queues one SQE (not yet visible to the kernel). Returns false when the SQ is full
   * (call `submit` and retry). `link` sets IOSQE_IO_LINK on this SQE; `punt` sets
   * IOSQE_ASYNC (straight to io-wq, for buffered writes).
   */
  prepWrite(
    token: number,
    fd: number,
    data: Uint8Array,
    offset: number,
    link: boolean,
    punt: boolean,
  ): boolean;
  prepWritev(
    token: number,
    fd: number,
    buffers: readonly Uint8Array[],
    offset: number,
    link: boolean,
    punt: boolean,
  ): boolean;
  prepRead(token: number, fd: number, into: Uint8Array, offset: number, link: boolean): boolean;
  prepFsync(token: number, fd: number, datasync: boolean, link: boolean): boolean;
  prepFallocate(token: number, fd: number, offset: number, length: number, link: boolean): boolean;
  /** sync_file_range(SYNC_FILE_RANGE_WRITE) of the range. */
  prepWriteback(token: number, fd: number, offset: number, length: number, link: boolean): boolean;
  /** Publishes queued SQEs and enters the kernel; returns how many it took, or -errno. */
  submit(): number;
  /**
   * Drains every available CQE into the completion array; returns how many. With `enter`,
   * an empty CQ with operations in flight enters the kernel once, without waiting, so that
   * finished operations are posted (see addon.c).
   */
  reap(enter?: boolean): number;
  /** Free SQ slots. */
  readonly sqSpace: number;
  /** Size of the SQ ring. */
  readonly sqEntries: number;
  /** Operations handed to the kernel whose CQE has not been reaped. */
  readonly inFlight: number;
  /** Blocks until every in-flight operation completed, then unmaps the ring. */
  close(): void;
  /** Facts for describe(). */
  info(): Record<string, unknown>;
}

export interface NativeRingOptions {
  entries: number;
  sqpoll: boolean;
  sqpollIdleMs: number;
  /** Completions land here as (token, result) pairs. */
  completions: Float64Array;
  /** Called from the libuv loop with the number of pairs written to `completions`. */
  onCompletions: (count: number) => void;
}

export interface NativeBinding {
  createRing(options: NativeRingOptions): NativeRing;
  /** Creates (and destroys) a real ring: `null` when it works, else why not. */
  probe(): string | null;
  /** flock(2); returns 0 or -errno. */
  flock(fd: number, operation: number): number;
  /** fallocate(2); returns 0 or -errno. */
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  /** sync_file_range(2) with SYNC_FILE_RANGE_WRITE; returns 0 or -errno. */
  syncFileRangeWrite(fd: number, offset: number, length: number): number;
  /** A zero-filled Buffer starting on a 4096-byte boundary (GC-owned), or null when out of memory. */
  allocAligned(size: number): Buffer | null;
  readonly constants: {
    readonly O_DIRECT: number;
    readonly O_DSYNC: number;
    readonly LOCK_EX: number;
    readonly LOCK_NB: number;
    readonly LOCK_UN: number;
  };
}

export interface NativeLoad {
  readonly binding: NativeBinding | null;
  /** Why the addon is not available (every attempt), or how it was loaded. */
  readonly reason: string;
}

const packageRoot = resolve(fileURLToPath(new URL('..', import.meta.url)));
let cached: NativeLoad | undefined;

/** Loads the addon once; never throws. */
export function loadNative(): NativeLoad {
  cached ??=
    process.env.WALNUT_STORAGE_IO_NATIVE === '0'
      ? { binding: null, reason: 'the native addon is disabled by WALNUT_STORAGE_IO_NATIVE=0' }
      : loadNativeFrom(packageRoot);
  return cached;
}

/**
 * Tries node-gyp-build (build/Release, build/Debug, prebuilds/) and then the plain
 * build output, and collects every failure into one message that says what to do.
 */
export function loadNativeFrom(root: string): NativeLoad {
  if (process.platform !== 'linux') {
    return {
      binding: null,
      reason: `the io_uring addon is Linux-only (platform is ${process.platform})`,
    };
  }
  const require = createRequire(import.meta.url);
  const failures: string[] = [];
  try {
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => unknown;
    return { binding: nodeGypBuild(root) as NativeBinding, reason: 'loaded by node-gyp-build' };
  } catch (error) {
    failures.push(`node-gyp-build: ${firstLine(error)}`);
  }
  const direct = join(root, 'build', 'Release', 'walnut_storage_io.node');
  try {
    return { binding: require(direct) as NativeBinding, reason: `loaded from ${direct}` };
  } catch (error) {
    failures.push(`${direct}: ${firstLine(error)}`);
  }
  return {
    binding: null,
    reason: [
      'the native addon @walnut/storage-io/native could not be loaded:',
      ...failures.map((failure) => `  - ${failure}`),
      'To build it, install a C compiler, make and python3, then run `npx -y pnpm@10.34.9 install`',
      '(or `npx node-gyp rebuild` in packages/storage-io). Everything keeps working on sync-fs.',
    ].join('\n'),
  };
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/** Whether the native addon (io_uring, flock, fallocate, writeback) is loaded here, and why not. */
export function nativeAddonStatus(): { loaded: boolean; reason: string } {
  const { binding, reason } = loadNative();
  return { loaded: binding !== null, reason };
}
