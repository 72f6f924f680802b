/**
 * The StorageIo contract: a submission/completion interface so that one writer can
 * keep many operations in flight without a thread per operation.
 *
 * Submissions return a token from one per-instance counter. Nothing reaches the
 * kernel until `flush()`. Completions are collected with `pollCompletions()` (never
 * blocks) or `waitCompletions(min)` (a promise resolved from the event loop).
 */

/** The kind of operation a submission/completion is about. */
export type IoOp =
  | 'open'
  | 'write'
  | 'writev'
  | 'read'
  | 'fdatasync'
  | 'fsync'
  | 'fallocate'
  | 'writeback';

/** A file descriptor as returned by `StorageIo.open` (a plain OS fd for real backends). */
export type IoFd = number;

export interface IoCompletion {
  /** The token `submit*` returned. */
  readonly token: number;
  readonly op: IoOp;
  /** The descriptor operated on; -1 for an `open`, whose result is the new one. */
  readonly fd: IoFd;
  /** Bytes asked for (write/writev/read/fallocate/writeback length), 0 for syncs and opens. */
  readonly requested: number;
  /**
   * Bytes transferred (>= 0; 0 for a successful sync), the new descriptor of an `open`, or
   * `-errno` on failure.
   */
  readonly result: number;
}

/** Options for a submission. */
export interface SubmitOptions {
  /**
   * Chain this operation behind the previous submission of this instance: it runs only
   * after that one completed successfully (in full, for writes). If the previous link
   * fails, this operation completes with `-ECANCELED` (125) and never runs. On io_uring
   * this is `IOSQE_IO_LINK`; other backends execute in order and check.
   */
  readonly linkToPrevious?: boolean;
  /**
   * For a write or writev: the write is durable when it completes, as if an fdatasync of
   * just its own bytes ran before the completion (`RWF_DSYNC` on io_uring; a write and an
   * fdatasync on sync-fs). Bytes written earlier and not yet synced are not covered. Only
   * backends whose `dsyncWrites` is true honour it; pass it to no other.
   */
  readonly dsync?: boolean;
}

export interface OpenOptions {
  /** Create the file if missing (mode 0o600 unless `mode` says otherwise). */
  readonly create?: boolean;
  /** Fail if it exists (with `create`). */
  readonly exclusive?: boolean;
  /** Open read-only. */
  readonly readOnly?: boolean;
  /** Truncate to zero length. */
  readonly truncate?: boolean;
  /** O_DIRECT, where the backend and the file system support it. */
  readonly direct?: boolean;
  /** O_DSYNC, where supported. */
  readonly dsync?: boolean;
  readonly mode?: number;
}

export interface IoLock {
  readonly path: string;
  release(): Promise<void>;
}

export interface StorageIoDescription {
  /** The backend actually in use: 'io_uring', 'sync-fs', 'memory', 'faulty(<inner>)' or a custom name. */
  readonly backend: string;
  /** Why this backend was chosen (and why any preferred one was not). */
  readonly reason: string;
  /** Backend-specific facts (ring size, features, sqpoll, …). */
  readonly details?: Readonly<Record<string, unknown>>;
}

/** The start of a file and its size, as `StorageIo.readHeads` hands them back. */
export interface FileHead {
  /** The file's first bytes: as many as asked for, fewer only where the file is shorter. */
  readonly bytes: Buffer;
  readonly size: number;
}

export interface StorageIo {
  /** A short name of the backend ('io_uring', 'sync-fs', 'memory', …). */
  readonly name: string;
  /**
   * False when the paths this backend serves are not files of the operating system (the
   * memory backend): then nothing may read them behind its back, e.g. through a memory
   * map. Absent means true.
   */
  readonly filesOnDisk?: boolean;
  /**
   * True when writes submitted with `{ dsync: true }` are durable on completion. Absent
   * means false: a backend written before the option existed ignores it, so callers check
   * this before relying on it.
   */
  readonly dsyncWrites?: boolean;

  // Files (promise based; these are setup operations, not the hot path). `open` is a
  // promise helper over `submitOpen`, below.
  close(fd: IoFd): Promise<void>;
  /** Current size of the file in bytes. */
  size(fd: IoFd): Promise<number>;
  /** Set the file length (used to cut a torn tail). */
  truncate(fd: IoFd, length: number): Promise<void>;

  // Namespace operations. They go through the backend so that the memory and faulty
  // backends can model (and break) them: a created, renamed or deleted name is durable
  // only after `syncDirectory` of its parent completed.
  /** Creates the directory and any missing parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /** Names in a directory (not paths), unsorted. Throws WAL_IO with errno ENOENT if missing. */
  readdir(path: string): Promise<string[]>;
  /** Size in bytes, or null when the path does not exist. */
  stat(path: string): Promise<{ size: number } | null>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** fsync of a directory, making entries created/renamed/removed in it durable. */
  syncDirectory(path: string): Promise<void>;
  /**
   * An exclusive advisory lock on `path` (created if missing) that dies with the process
   * (flock). Rejects with WAL_LOCKED when another holder has it.
   */
  lock(path: string): Promise<IoLock>;
  /**
   * Optional. The first `length` bytes and the size of each of `paths`, opened read-only
   * and closed again, in the order given; a file that cannot be read is its error (WAL_IO)
   * in its place. For checks that touch many files at once, as open checks each sealed
   * segment's header: a backend over real files does them in one pass, where open, read,
   * size and close through the promises here cost a round each. Callers go through
   * `readFileHeads`, which does it that way when a backend has no `readHeads`.
   */
  readHeads?(paths: readonly string[], length: number): Promise<(FileHead | Error)[]>;

  // Submission.
  /**
   * Opens (or creates) a file as a submission: the completion's `result` is the new
   * descriptor or -errno. Through `onCompletion` and `reapCompletions` a caller that never
   * yields to the event loop still gets the file, as a writer rolling over to its next
   * segment inside a tight append loop must. It takes no `linkToPrevious`: nothing it
   * could wait for decides whether a file opens.
   */
  submitOpen(path: string, options?: OpenOptions): number;
  submitWrite(fd: IoFd, data: Uint8Array, offset: number, options?: SubmitOptions): number;
  submitWritev(
    fd: IoFd,
    buffers: readonly Uint8Array[],
    offset: number,
    options?: SubmitOptions,
  ): number;
  submitRead(fd: IoFd, into: Uint8Array, offset: number, options?: SubmitOptions): number;
  submitDatasync(fd: IoFd, options?: SubmitOptions): number;
  submitFsync(fd: IoFd, options?: SubmitOptions): number;
  /** Reserve space (mode 0: extends the file size). Backends that cannot complete it with -EOPNOTSUPP. */
  submitFallocate(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number;
  /**
   * Starts writing the range's dirty pages back to the device without waiting for them
   * (sync_file_range with SYNC_FILE_RANGE_WRITE). It makes nothing durable — no device
   * cache flush, no metadata — and only leaves less for a later fdatasync to write.
   * Completes with 0 once the writeback is under way; backends without it complete with
   * -EOPNOTSUPP (a memory backend has nothing to write back and completes with 0).
   */
  submitWriteback(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number;

  /** Hand every queued submission to the kernel / execute it. Returns how many were handed over. */
  flush(): number;
  /** Completions that are ready now; never blocks. */
  pollCompletions(): IoCompletion[];
  /**
   * Resolves (from the event loop, never by spinning) once at least `min` completions are
   * ready (default 1), with every completion ready at that moment. Flushes first. If no
   * unclaimed operation is left whose completion could still arrive, it resolves at once
   * with what is ready (possibly nothing) instead of waiting forever.
   */
  waitCompletions(min?: number): Promise<IoCompletion[]>;
  /** Number of submitted operations whose completion has not been collected yet. */
  readonly inFlight: number;

  /**
   * Claims a submitted token: its completion resolves this promise (with the completion,
   * whatever its result) and is not returned by `pollCompletions`/`waitCompletions`.
   * This is how several users share one instance. Flushes if needed: queue a whole
   * `linkToPrevious` chain before claiming any of its tokens, or its head goes out alone
   * and the rest waits for the head's completion.
   */
  completion(token: number): Promise<IoCompletion>;
  /**
   * Claims a submitted token like `completion(token)`, with a callback instead of a promise.
   * The callback runs at once where the completion is delivered at the top of a call stack
   * (the event loop, or `reapCompletions()`), else from a microtask — never inside another
   * of this instance's calls, and never twice. For hot paths that must not pay a promise.
   */
  onCompletion(token: number, callback: (completion: IoCompletion) => void): void;
  /**
   * Delivers, now, every completion that is already there (io_uring's completion queue,
   * sync-fs's executed operations): `onCompletion` callbacks run before this returns,
   * `completion(token)` promises resolve, the rest become ready. Never blocks or waits:
   * it lets a caller that has not yielded to the event loop (a tight append loop) recycle
   * what finished meanwhile.
   */
  reapCompletions(): void;

  // Promise helpers, built on submit + completion(token). Failures throw a WalError
  // (WAL_NO_SPACE for ENOSPC/EDQUOT, WAL_IO otherwise, with errno and syscall).
  /** Opens (or creates) a file through `submitOpen`; resolves with its descriptor. */
  open(path: string, options?: OpenOptions): Promise<IoFd>;
  /** Writes all of `data` at `offset`, looping on short writes. Resolves with data.length. */
  write(fd: IoFd, data: Uint8Array, offset: number): Promise<number>;
  /** Reads up to into.length bytes at `offset`; resolves with bytes read (0 at end of file). */
  read(fd: IoFd, into: Uint8Array, offset: number): Promise<number>;
  datasync(fd: IoFd): Promise<void>;
  fsync(fd: IoFd): Promise<void>;
  fallocate(fd: IoFd, offset: number, length: number): Promise<void>;

  /** Which backend runs and why. */
  describe(): StorageIoDescription;
  /**
   * No new submissions (they throw WAL_CLOSED); in-flight operations complete or are
   * cancelled and stay collectable; buffers they use are kept alive until then. Idempotent.
   */
  closeIo(): Promise<void>;
}
