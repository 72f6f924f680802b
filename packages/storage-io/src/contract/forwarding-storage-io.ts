import { readFileHeads } from './file-heads.js';
import type {
  FileHead,
  IoCompletion,
  IoFd,
  IoLock,
  OpenOptions,
  StorageIo,
  StorageIoDescription,
  SubmitOptions,
} from './types.js';

/**
 * A StorageIo that hands every call, unchanged, to another one: the base of a plugin that
 * changes a few calls of any backend (timing, tracing, throttling) and passes the rest
 * through. Tokens are the inner backend's own, so a subclass that overrides a submission
 * returns the inner token it got. Extend `WrappingStorageIo` instead when the plugin must
 * hold, reorder or refuse submissions (it then owns its tokens).
 */
export class ForwardingStorageIo implements StorageIo {
  constructor(readonly inner: StorageIo) {}

  get name(): string {
    return this.inner.name;
  }
  get filesOnDisk(): boolean {
    return this.inner.filesOnDisk !== false;
  }
  get dsyncWrites(): boolean {
    return this.inner.dsyncWrites === true;
  }
  get inFlight(): number {
    return this.inner.inFlight;
  }

  close(fd: IoFd): Promise<void> {
    return this.inner.close(fd);
  }
  size(fd: IoFd): Promise<number> {
    return this.inner.size(fd);
  }
  truncate(fd: IoFd, length: number): Promise<void> {
    return this.inner.truncate(fd, length);
  }
  mkdir(path: string): Promise<void> {
    return this.inner.mkdir(path);
  }
  readdir(path: string): Promise<string[]> {
    return this.inner.readdir(path);
  }
  stat(path: string): Promise<{ size: number } | null> {
    return this.inner.stat(path);
  }
  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }
  unlink(path: string): Promise<void> {
    return this.inner.unlink(path);
  }
  syncDirectory(path: string): Promise<void> {
    return this.inner.syncDirectory(path);
  }
  lock(path: string): Promise<IoLock> {
    return this.inner.lock(path);
  }
  readHeads(paths: readonly string[], length: number): Promise<(FileHead | Error)[]> {
    return readFileHeads(this.inner, paths, length);
  }

  submitOpen(path: string, options?: OpenOptions): number {
    return this.inner.submitOpen(path, options);
  }
  submitWrite(fd: IoFd, data: Uint8Array, offset: number, options?: SubmitOptions): number {
    return this.inner.submitWrite(fd, data, offset, options);
  }
  submitWritev(
    fd: IoFd,
    buffers: readonly Uint8Array[],
    offset: number,
    options?: SubmitOptions,
  ): number {
    return this.inner.submitWritev(fd, buffers, offset, options);
  }
  submitRead(fd: IoFd, into: Uint8Array, offset: number, options?: SubmitOptions): number {
    return this.inner.submitRead(fd, into, offset, options);
  }
  submitDatasync(fd: IoFd, options?: SubmitOptions): number {
    return this.inner.submitDatasync(fd, options);
  }
  submitFsync(fd: IoFd, options?: SubmitOptions): number {
    return this.inner.submitFsync(fd, options);
  }
  submitFallocate(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number {
    return this.inner.submitFallocate(fd, offset, length, options);
  }
  submitWriteback(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number {
    return this.inner.submitWriteback(fd, offset, length, options);
  }
  flush(): number {
    return this.inner.flush();
  }

  pollCompletions(): IoCompletion[] {
    return this.inner.pollCompletions();
  }
  waitCompletions(min?: number): Promise<IoCompletion[]> {
    return this.inner.waitCompletions(min);
  }
  completion(token: number): Promise<IoCompletion> {
    return this.inner.completion(token);
  }
  onCompletion(token: number, callback: (completion: IoCompletion) => void): void {
    this.inner.onCompletion(token, callback);
  }
  reapCompletions(): void {
    this.inner.reapCompletions();
  }

  open(path: string, options?: OpenOptions): Promise<IoFd> {
    return this.inner.open(path, options);
  }
  write(fd: IoFd, data: Uint8Array, offset: number): Promise<number> {
    return this.inner.write(fd, data, offset);
  }
  read(fd: IoFd, into: Uint8Array, offset: number): Promise<number> {
    return this.inner.read(fd, into, offset);
  }
  datasync(fd: IoFd): Promise<void> {
    return this.inner.datasync(fd);
  }
  fsync(fd: IoFd): Promise<void> {
    return this.inner.fsync(fd);
  }
  fallocate(fd: IoFd, offset: number, length: number): Promise<void> {
    return this.inner.fallocate(fd, offset, length);
  }

  describe(): StorageIoDescription {
    return this.inner.describe();
  }
  closeIo(): Promise<void> {
    return this.inner.closeIo();
  }
}
