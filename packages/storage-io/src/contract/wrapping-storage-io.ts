import { BaseStorageIo } from './base-storage-io.js';
import type { IoFd, IoLock, StorageIo } from './types.js';

/** The file and name operations of a StorageIo: the calls that are not submissions. */
export type FileCall =
  | 'close'
  | 'size'
  | 'truncate'
  | 'mkdir'
  | 'readdir'
  | 'stat'
  | 'rename'
  | 'unlink'
  | 'syncDirectory'
  | 'lock';

/** What a file call names: its descriptor, or its path (and a rename's new one). */
export interface FileCallTarget {
  readonly fd?: IoFd;
  readonly path?: string;
  readonly to?: string;
}

/**
 * A backend over another one (fault injection, reordering, recording): its own tokens and
 * completion routing, as every BaseStorageIo, with the file and name operations handed to
 * `inner` through one hook, `fileCall`, which a wrapper overrides to watch or break them
 * all at once. Submissions stay the wrapper's own (`dispatch`).
 */
export abstract class WrappingStorageIo extends BaseStorageIo {
  readonly name: string;

  constructor(
    readonly inner: StorageIo,
    kind: string,
  ) {
    super();
    this.name = `${kind}(${inner.name})`;
  }

  /** Every file and name operation passes here on its way to `inner`. */
  protected fileCall<T>(
    _call: FileCall,
    _target: FileCallTarget,
    run: () => Promise<T>,
  ): Promise<T> {
    return run();
  }

  close(fd: IoFd): Promise<void> {
    return this.fileCall('close', { fd }, () => this.inner.close(fd));
  }

  size(fd: IoFd): Promise<number> {
    return this.fileCall('size', { fd }, () => this.inner.size(fd));
  }

  truncate(fd: IoFd, length: number): Promise<void> {
    return this.fileCall('truncate', { fd }, () => this.inner.truncate(fd, length));
  }

  mkdir(path: string): Promise<void> {
    return this.fileCall('mkdir', { path }, () => this.inner.mkdir(path));
  }

  readdir(path: string): Promise<string[]> {
    return this.fileCall('readdir', { path }, () => this.inner.readdir(path));
  }

  stat(path: string): Promise<{ size: number } | null> {
    return this.fileCall('stat', { path }, () => this.inner.stat(path));
  }

  rename(from: string, to: string): Promise<void> {
    return this.fileCall('rename', { path: from, to }, () => this.inner.rename(from, to));
  }

  unlink(path: string): Promise<void> {
    return this.fileCall('unlink', { path }, () => this.inner.unlink(path));
  }

  syncDirectory(path: string): Promise<void> {
    return this.fileCall('syncDirectory', { path }, () => this.inner.syncDirectory(path));
  }

  lock(path: string): Promise<IoLock> {
    return this.fileCall('lock', { path }, () => this.inner.lock(path));
  }

  get filesOnDisk(): boolean {
    return this.inner.filesOnDisk !== false;
  }

  /** As the inner backend: a `dsync` write is handed on as one. */
  get dsyncWrites(): boolean {
    return this.inner.dsyncWrites === true;
  }
}
