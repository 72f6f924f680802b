import type { BaseStorageIo } from './base.js';
import { realFiles } from './realfs.js';
import type { IoFd, IoLock, OpenOptions } from './types.js';

// biome-ignore lint/suspicious/noExplicitAny: a mixin's base constructor must take any[]
type BackendClass = abstract new (...args: any[]) => BaseStorageIo;

/** What `withRealFiles` adds: `realFiles`' operations, as methods of the backend. */
export type RealFileOperations = typeof realFiles;

/**
 * The file and name operations of a backend over real files (sync-fs, io_uring): both
 * run them through node:fs (`realFiles`) and differ only in how they read, write and
 * sync. A mixin, because the two extend different bases.
 */
export function withRealFiles<Base extends BackendClass>(
  base: Base,
  // biome-ignore lint/suspicious/noExplicitAny: as above
): Base & (abstract new (...args: any[]) => RealFileOperations) {
  abstract class RealFilesBackend extends base {
    open(path: string, options?: OpenOptions): Promise<IoFd> {
      this.assertOpen();
      return realFiles.open(path, options);
    }
    close(fd: IoFd): Promise<void> {
      return realFiles.close(fd);
    }
    size(fd: IoFd): Promise<number> {
      return realFiles.size(fd);
    }
    truncate(fd: IoFd, length: number): Promise<void> {
      return realFiles.truncate(fd, length);
    }
    mkdir(path: string): Promise<void> {
      return realFiles.mkdir(path);
    }
    readdir(path: string): Promise<string[]> {
      return realFiles.readdir(path);
    }
    stat(path: string): Promise<{ size: number } | null> {
      return realFiles.stat(path);
    }
    rename(from: string, to: string): Promise<void> {
      return realFiles.rename(from, to);
    }
    unlink(path: string): Promise<void> {
      return realFiles.unlink(path);
    }
    syncDirectory(path: string): Promise<void> {
      return realFiles.syncDirectory(path);
    }
    lock(path: string): Promise<IoLock> {
      return realFiles.lock(path);
    }
  }
  return RealFilesBackend;
}
