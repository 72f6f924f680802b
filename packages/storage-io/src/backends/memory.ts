import { posix, sep } from 'node:path';
import { WalError, WalErrorCode } from '@walnut/codec';
import { DIRECT_IO_SECTOR } from '../contract/aligned.js';
import type { OpenRequest, QueuedOp } from '../contract/base-storage-io.js';
import { Errno, errnoOf, ioErrorFromErrno, lockedError } from '../contract/errors.js';
import { SequentialStorageIo } from '../contract/sequential-storage-io.js';
import type { IoFd, IoLock, StorageIoDescription } from '../contract/types.js';
import { MemoryFile } from '../simulation/memory-file.js';
import { seededRandom, survivingPages, tornEnd, tornStart } from '../simulation/tearing.js';

interface Directory {
  /** Names as the running process sees them. */
  entries: Map<string, MemoryFile | Directory>;
  /** Names as they were at the last syncDirectory (what a power loss leaves). */
  durable: Map<string, MemoryFile | Directory>;
}

interface OpenFile {
  readonly file: MemoryFile;
  readonly readOnly: boolean;
  /** Opened with `direct`: reads and writes must be aligned as O_DIRECT demands. */
  readonly direct: boolean;
}

/**
 * Whether an O_DIRECT transfer would be refused with EINVAL: file offset, length and the
 * buffer must be block-aligned. Memory addresses are not visible here, so the buffer is
 * judged by its offset into its ArrayBuffer (exact for buffers from alignedBuffer()).
 */
function misalignedForDirect(op: QueuedOp): boolean {
  if (op.offset % DIRECT_IO_SECTOR !== 0) return true;
  for (const buffer of op.buffers ?? [op.data!]) {
    if (buffer.byteOffset % DIRECT_IO_SECTOR !== 0 || buffer.byteLength % DIRECT_IO_SECTOR !== 0) {
      return true;
    }
  }
  return false;
}

export interface PowerLossOptions {
  /** Let the last unsynced write survive as a prefix torn at a 512-byte boundary. */
  readonly tear?: boolean;
  /**
   * Unsynced writes reach the disk out of order: each 4 KiB page they dirtied survives with
   * what was written or keeps what was durable, page by page (a later write may survive
   * an earlier one, which then reads as zeros). Default: every unsynced write is lost.
   */
  readonly reorder?: boolean;
  /** Seed for choosing where the tear falls and which pages survive. */
  readonly seed?: number;
}

function newDirectory(): Directory {
  return { entries: new Map(), durable: new Map() };
}

/**
 * In-memory files for tests and simulations. Each file keeps two images: what has been
 * written and what a completed fdatasync/fsync made durable. Names created, renamed or
 * unlinked in a directory become durable only after `syncDirectory` of that directory;
 * files opened with `direct` refuse misaligned transfers with EINVAL, as O_DIRECT does;
 * directories made by `mkdir` are durable at once (the model covers file names, which
 * is what a log's recovery depends on). `simulatePowerLoss` throws away everything that
 * was not durable. Locks exclude other holders within this instance.
 */
export class MemoryStorageIo extends SequentialStorageIo {
  readonly name = 'memory';
  readonly filesOnDisk = false;
  readonly dsyncWrites = true;
  readonly #root: Directory = newDirectory();
  readonly #files = new Set<MemoryFile>();
  readonly #fds = new Map<IoFd, OpenFile>();
  readonly #locks = new Set<string>();
  #nextFd = 100;
  /** The last write not yet covered by a sync: the one a power loss may tear. */
  #lastUnsyncedWrite: { file: MemoryFile; offset: number; length: number } | null = null;

  protected execute(op: QueuedOp): number {
    if (op.op === 'open') return this.#openNow(op.open!);
    const open = this.#fds.get(op.fd);
    if (open === undefined) return -Errno.EBADF;
    const { file } = open;
    const transfer = op.op === 'write' || op.op === 'writev' || op.op === 'read';
    if (transfer && open.direct && misalignedForDirect(op)) return -Errno.EINVAL;
    switch (op.op) {
      case 'write':
      case 'writev': {
        if (open.readOnly) return -Errno.EBADF;
        let offset = op.offset;
        for (const buffer of op.buffers ?? [op.data!]) offset += file.write(buffer, offset);
        if (op.dsync) {
          file.syncRange(op.offset, offset);
        } else if (op.requested > 0) {
          this.#lastUnsyncedWrite = { file, offset: op.offset, length: op.requested };
        }
        return op.requested;
      }
      case 'read':
        return file.read(op.data!, op.offset);
      case 'fdatasync':
      case 'fsync':
        file.sync();
        if (this.#lastUnsyncedWrite?.file === file) this.#lastUnsyncedWrite = null;
        return 0;
      case 'fallocate':
        if (open.readOnly) return -Errno.EBADF;
        file.allocate(op.offset, op.requested);
        return 0;
      case 'writeback':
        // No page cache: nothing waits to be written back, and nothing becomes durable.
        return 0;
    }
  }

  /** Every file and name goes back to its durable image; open fds and locks die. */
  simulatePowerLoss(options: PowerLossOptions = {}): void {
    const random = seededRandom(options.seed ?? Date.now());
    const survivors: { file: MemoryFile; bytes: Buffer; offset: number }[] = [];
    if (options.reorder) {
      for (const file of this.#files) {
        const range = file.unsyncedRange;
        if (range === null) continue;
        for (const [start, end] of survivingPages([range], file.size, random))
          survivors.push({ file, bytes: file.writtenRange(start, end), offset: start });
      }
    }
    const torn = options.tear ? this.#lastUnsyncedWrite : null;
    if (torn !== null) {
      const end = tornEnd(torn.offset, torn.length, random);
      if (end > torn.offset) {
        const start = tornStart(torn.offset);
        survivors.push({
          file: torn.file,
          bytes: torn.file.writtenRange(start, end),
          offset: start,
        });
      }
    }
    this.#revertDirectory(this.#root);
    for (const file of this.#files) file.revertToDurable();
    for (const survivor of survivors)
      survivor.file.applySurvivingBytes(survivor.bytes, survivor.offset);
    this.#fds.clear();
    this.#locks.clear();
    this.#lastUnsyncedWrite = null;
  }

  #revertDirectory(directory: Directory): void {
    directory.entries = new Map(directory.durable);
    for (const entry of directory.entries.values()) {
      if (!(entry instanceof MemoryFile)) this.#revertDirectory(entry);
    }
  }

  /** The written image of the file at `path` (a copy), or null when there is none. */
  fileBytes(path: string): Buffer | null {
    const entry = this.#lookup(path);
    return entry instanceof MemoryFile ? entry.writtenImage() : null;
  }

  /** The durable image of the file at `path` (a copy), or null when there is none. */
  durableBytes(path: string): Buffer | null {
    const entry = this.#lookup(path);
    return entry instanceof MemoryFile ? entry.durableImage() : null;
  }

  #lookup(path: string): MemoryFile | Directory | undefined {
    let current: MemoryFile | Directory = this.#root;
    for (const part of splitPath(path)) {
      if (current instanceof MemoryFile) return undefined;
      const next: MemoryFile | Directory | undefined = current.entries.get(part);
      if (next === undefined) return undefined;
      current = next;
    }
    return current;
  }

  #parentOf(path: string, syscall: string): { directory: Directory; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw ioErrorFromErrno(Errno.EISDIR, syscall, path);
    const parent = this.#lookup(`/${parts.join('/')}`);
    if (parent === undefined) throw ioErrorFromErrno(Errno.ENOENT, syscall, path);
    if (parent instanceof MemoryFile) throw ioErrorFromErrno(Errno.ENOTDIR, syscall, path);
    return { directory: parent, name };
  }

  #openFile(fd: IoFd, syscall: string): OpenFile {
    const open = this.#fds.get(fd);
    if (open === undefined) throw ioErrorFromErrno(Errno.EBADF, syscall);
    return open;
  }

  /** A submitted open: the new descriptor, or -errno. */
  #openNow({ path, options }: OpenRequest): number {
    try {
      const { directory, name } = this.#parentOf(path, 'open');
      let entry = directory.entries.get(name);
      if (entry !== undefined && options.create && options.exclusive) return -Errno.EEXIST;
      if (entry === undefined) {
        if (!options.create) return -Errno.ENOENT;
        entry = new MemoryFile();
        this.#files.add(entry);
        directory.entries.set(name, entry);
      }
      if (!(entry instanceof MemoryFile)) return -Errno.EISDIR;
      if (options.truncate && !options.readOnly) entry.truncate(0);
      const fd = this.#nextFd++;
      this.#fds.set(fd, {
        file: entry,
        readOnly: options.readOnly === true,
        direct: options.direct === true,
      });
      return fd;
    } catch (error) {
      const errno = errnoOf(error);
      if (errno === undefined) throw error;
      return -errno;
    }
  }

  async close(fd: IoFd): Promise<void> {
    this.#openFile(fd, 'close');
    this.#fds.delete(fd);
  }

  async size(fd: IoFd): Promise<number> {
    return this.#openFile(fd, 'fstat').file.size;
  }

  async truncate(fd: IoFd, length: number): Promise<void> {
    const open = this.#openFile(fd, 'ftruncate');
    if (open.readOnly) throw ioErrorFromErrno(Errno.EINVAL, 'ftruncate');
    open.file.truncate(length);
  }

  async mkdir(path: string): Promise<void> {
    let current = this.#root;
    for (const part of splitPath(path)) {
      const next = current.entries.get(part);
      if (next instanceof MemoryFile) throw ioErrorFromErrno(Errno.ENOTDIR, 'mkdir', path);
      if (next !== undefined) {
        current = next;
        continue;
      }
      const created = newDirectory();
      current.entries.set(part, created);
      current.durable.set(part, created);
      current = created;
    }
  }

  async readdir(path: string): Promise<string[]> {
    const entry = this.#lookup(path);
    if (entry === undefined) throw ioErrorFromErrno(Errno.ENOENT, 'readdir', path);
    if (entry instanceof MemoryFile) throw ioErrorFromErrno(Errno.ENOTDIR, 'readdir', path);
    return Array.from(entry.entries.keys());
  }

  async stat(path: string): Promise<{ size: number } | null> {
    const entry = this.#lookup(path);
    if (entry === undefined) return null;
    return { size: entry instanceof MemoryFile ? entry.size : 0 };
  }

  async rename(from: string, to: string): Promise<void> {
    const source = this.#parentOf(from, 'rename');
    const entry = source.directory.entries.get(source.name);
    if (entry === undefined) throw ioErrorFromErrno(Errno.ENOENT, 'rename', from);
    if (!(entry instanceof MemoryFile)) {
      throw ioErrorFromErrno(Errno.EOPNOTSUPP, 'rename (directories)', from);
    }
    const target = this.#parentOf(to, 'rename');
    const replaced = target.directory.entries.get(target.name);
    if (replaced !== undefined && !(replaced instanceof MemoryFile)) {
      throw ioErrorFromErrno(Errno.EISDIR, 'rename', to);
    }
    source.directory.entries.delete(source.name);
    target.directory.entries.set(target.name, entry);
  }

  async unlink(path: string): Promise<void> {
    const { directory, name } = this.#parentOf(path, 'unlink');
    const entry = directory.entries.get(name);
    if (entry === undefined) throw ioErrorFromErrno(Errno.ENOENT, 'unlink', path);
    if (!(entry instanceof MemoryFile)) throw ioErrorFromErrno(Errno.EISDIR, 'unlink', path);
    directory.entries.delete(name);
  }

  async syncDirectory(path: string): Promise<void> {
    const entry = this.#lookup(path);
    if (entry === undefined) throw ioErrorFromErrno(Errno.ENOENT, 'open', path);
    if (entry instanceof MemoryFile) throw ioErrorFromErrno(Errno.ENOTDIR, 'fsync', path);
    entry.durable = new Map(entry.entries);
  }

  async lock(path: string): Promise<IoLock> {
    const key = posix.resolve('/', slashed(path));
    if (this.#locks.has(key)) throw lockedError(path, { self: true });
    const fd = await this.open(path, { create: true });
    await this.close(fd);
    this.#locks.add(key);
    let released = false;
    return {
      path,
      release: async () => {
        if (released) return;
        released = true;
        this.#locks.delete(key);
      },
    };
  }

  describe(): StorageIoDescription {
    return {
      backend: this.name,
      reason: 'chosen explicitly (in-memory files; nothing reaches a disk)',
      details: { files: this.#files.size, openFds: this.#fds.size },
    };
  }
}

function splitPath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) {
    throw new WalError(
      WalErrorCode.BAD_ARGUMENT,
      `path must be a non-empty string, got ${String(path)}`,
    );
  }
  return posix
    .resolve('/', slashed(path))
    .split('/')
    .filter((part) => part.length > 0);
}

// A caller on Windows joins paths with node:path, whose separator there is a backslash.
function slashed(path: string): string {
  return sep === '\\' && typeof path === 'string' ? path.replaceAll('\\', '/') : path;
}
