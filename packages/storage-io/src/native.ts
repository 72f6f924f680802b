import { fileURLToPath } from 'node:url';
import { type AddonLoad, type AddonSpec, loadAddon } from '@walnut/codec';

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
    dsync?: boolean,
  ): boolean;
  prepWritev(
    token: number,
    fd: number,
    buffers: readonly Uint8Array[],
    offset: number,
    link: boolean,
    punt: boolean,
    dsync?: boolean,
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
  /**
   * Called from the libuv loop with the number of pairs written to `completions`; the ring
   * holds it for as long as the ring lives.
   */
  onCompletions: (count: number) => void;
}

/** A descriptor `holdFd` holds (an external value). */
export type HeldFd = { readonly heldFd: unique symbol };

export interface NativeBinding {
  createRing(options: NativeRingOptions): NativeRing;
  /** Creates (and destroys) a real ring: `null` when it works, else why not. */
  probe(): string | null;
  /** flock(2); returns 0 or -errno. */
  flock(fd: number, operation: number): number;
  /** Makes the environment's teardown close `fd` (a lock's) unless `releaseHeldFd` came first. */
  holdFd(fd: number): HeldFd;
  /** The teardown will not close the held descriptor: its owner closes it now. */
  releaseHeldFd(handle: HeldFd): void;
  /** fallocate(2); returns 0 or -errno. */
  fallocate(fd: number, mode: number, offset: number, length: number): number;
  /** sync_file_range(2) with SYNC_FILE_RANGE_WRITE; returns 0 or -errno. */
  syncFileRangeWrite(fd: number, offset: number, length: number): number;
  /**
   * Windows only: MoveFileExW with MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH, on
   * the disk when it returns; 0 or -errno.
   */
  renameDurable?(from: string, to: string): number;
  /** A zero-filled Buffer starting on a 4096-byte boundary (GC-owned), or null when out of memory. */
  allocAligned(size: number): Buffer | null;
  readonly constants: {
    readonly O_DIRECT: number;
    readonly O_DSYNC?: number;
    readonly LOCK_EX: number;
    readonly LOCK_NB: number;
    readonly LOCK_UN: number;
  };
}

// This file sits directly under src/ and is bundled directly under dist/: either way the
// package root is one level up. Only the test read of prove-io-uring opens a file there, once
// the addon loaded, which the loader lets it do from this package's own directory only; in an
// application's CommonJS bundle import.meta.url is empty, and nothing reads this.
export const packageRoot =
  import.meta.url === undefined ? '' : fileURLToPath(new URL('..', import.meta.url));
let cached: AddonLoad<NativeBinding> | undefined;

/** Loads the addon once, through the loader every Walnut addon uses; never throws. */
export function loadNative(): AddonLoad<NativeBinding> {
  cached ??= load({ moduleUrl: import.meta.url });
  return cached;
}

/** Loads the addon of the package at `root` (tests point it at a directory without one). */
export function loadNativeFrom(root: string): AddonLoad<NativeBinding> {
  return load({ packageRoot: root });
}

function load(from: AddonSpec<NativeBinding>['from']): AddonLoad<NativeBinding> {
  if (!['linux', 'darwin', 'win32'].includes(process.platform)) {
    return {
      binding: null,
      reason: `the native addon is built for Linux, macOS and Windows only (platform is ${process.platform}); ${FALLBACK}`,
      disabled: false,
    };
  }
  return loadAddon<NativeBinding>({
    name: 'storage-io',
    from,
    fallback: FALLBACK,
    functions: {
      createRing: true,
      probe: true,
      flock: true,
      holdFd: true,
      releaseHeldFd: true,
      fallocate: true,
      syncFileRangeWrite: true,
      allocAligned: true,
    },
  });
}

const FALLBACK =
  'I/O runs on sync-fs (node:fs), without io_uring, fallocate, writeback hints or direct I/O, and the lock is an owner file without flock';

/** Whether the native addon (io_uring, flock, fallocate, writeback) is loaded here, and why not. */
export function nativeAddonStatus(): { loaded: boolean; reason: string } {
  const { binding, reason } = loadNative();
  return { loaded: binding !== null, reason };
}
