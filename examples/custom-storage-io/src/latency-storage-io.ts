import type {
  IoCompletion,
  IoFd,
  IoLock,
  IoOp,
  OpenOptions,
  StorageIo,
  StorageIoDescription,
  SubmitOptions,
} from '@walnut/storage-io';
import { LatencyHistogram } from './histogram.js';

const OPS: readonly IoOp[] = [
  'open',
  'write',
  'writev',
  'read',
  'fdatasync',
  'fsync',
  'fallocate',
  'writeback',
];

export interface OpLatency {
  readonly op: IoOp;
  readonly count: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly maxMicros: number;
}

/**
 * A StorageIo plugin written against the public contract alone: it wraps any other
 * backend and records, per operation kind, the time from submission to completion.
 * Every call is passed through unchanged, so it behaves exactly like the backend it
 * wraps — which the exported conformance suite checks.
 *
 * Submissions are timed from `submit*` to the moment their completion is handed out
 * (`pollCompletions`, `waitCompletions`, `completion(token)` or `onCompletion`); the promise helpers
 * (`write`, `datasync`, …) are timed around their promise.
 */
export class LatencyRecordingStorageIo implements StorageIo {
  readonly name: string;
  private readonly submittedAt = new Map<number, number>();
  private readonly histograms = new Map<IoOp, LatencyHistogram>(
    OPS.map((op) => [op, new LatencyHistogram()]),
  );

  constructor(readonly inner: StorageIo) {
    this.name = `latency(${inner.name})`;
  }

  /** Latency per operation kind, for the kinds that happened. */
  report(): OpLatency[] {
    return OPS.map((op) => ({ op, h: this.histograms.get(op)! }))
      .filter(({ h }) => h.count > 0)
      .map(({ op, h }) => ({
        op,
        count: h.count,
        p50Micros: h.percentile(50),
        p99Micros: h.percentile(99),
        maxMicros: h.max,
      }));
  }

  // Files and names: setup operations, passed through.
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

  // Submissions: remember when each token went in.
  submitOpen(path: string, options?: OpenOptions): number {
    return this.started(this.inner.submitOpen(path, options));
  }
  submitWrite(fd: IoFd, data: Uint8Array, offset: number, options?: SubmitOptions): number {
    return this.started(this.inner.submitWrite(fd, data, offset, options));
  }
  submitWritev(
    fd: IoFd,
    buffers: readonly Uint8Array[],
    offset: number,
    options?: SubmitOptions,
  ): number {
    return this.started(this.inner.submitWritev(fd, buffers, offset, options));
  }
  submitRead(fd: IoFd, into: Uint8Array, offset: number, options?: SubmitOptions): number {
    return this.started(this.inner.submitRead(fd, into, offset, options));
  }
  submitDatasync(fd: IoFd, options?: SubmitOptions): number {
    return this.started(this.inner.submitDatasync(fd, options));
  }
  submitFsync(fd: IoFd, options?: SubmitOptions): number {
    return this.started(this.inner.submitFsync(fd, options));
  }
  submitFallocate(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number {
    return this.started(this.inner.submitFallocate(fd, offset, length, options));
  }
  submitWriteback(fd: IoFd, offset: number, length: number, options?: SubmitOptions): number {
    return this.started(this.inner.submitWriteback(fd, offset, length, options));
  }

  flush(): number {
    return this.inner.flush();
  }
  get inFlight(): number {
    return this.inner.inFlight;
  }

  // Completions: note each one's latency as it is handed out.
  pollCompletions(): IoCompletion[] {
    return this.finished(this.inner.pollCompletions());
  }
  async waitCompletions(min?: number): Promise<IoCompletion[]> {
    return this.finished(await this.inner.waitCompletions(min));
  }
  async completion(token: number): Promise<IoCompletion> {
    const completion = await this.inner.completion(token);
    this.finished([completion]);
    return completion;
  }
  onCompletion(token: number, callback: (completion: IoCompletion) => void): void {
    this.inner.onCompletion(token, (completion) => {
      this.finished([completion]);
      callback(completion);
    });
  }
  reapCompletions(): void {
    this.inner.reapCompletions();
  }

  // Promise helpers: timed around the inner backend's own helper.
  open(path: string, options?: OpenOptions): Promise<IoFd> {
    return this.timed('open', this.inner.open(path, options));
  }
  write(fd: IoFd, data: Uint8Array, offset: number): Promise<number> {
    return this.timed('write', this.inner.write(fd, data, offset));
  }
  read(fd: IoFd, into: Uint8Array, offset: number): Promise<number> {
    return this.timed('read', this.inner.read(fd, into, offset));
  }
  datasync(fd: IoFd): Promise<void> {
    return this.timed('fdatasync', this.inner.datasync(fd));
  }
  fsync(fd: IoFd): Promise<void> {
    return this.timed('fsync', this.inner.fsync(fd));
  }
  fallocate(fd: IoFd, offset: number, length: number): Promise<void> {
    return this.timed('fallocate', this.inner.fallocate(fd, offset, length));
  }

  describe(): StorageIoDescription {
    const inner = this.inner.describe();
    return {
      backend: `latency(${inner.backend})`,
      reason: `latency histograms around ${inner.backend}, chosen because ${inner.reason}`,
      ...(inner.details ? { details: inner.details } : {}),
    };
  }

  closeIo(): Promise<void> {
    return this.inner.closeIo();
  }

  private started(token: number): number {
    this.submittedAt.set(token, performance.now());
    return token;
  }

  private finished(completions: IoCompletion[]): IoCompletion[] {
    const now = performance.now();
    for (const c of completions) {
      const at = this.submittedAt.get(c.token);
      if (at === undefined) continue;
      this.submittedAt.delete(c.token);
      this.histograms.get(c.op)?.record((now - at) * 1000);
    }
    return completions;
  }

  private async timed<T>(op: IoOp, promise: Promise<T>): Promise<T> {
    const at = performance.now();
    try {
      return await promise;
    } finally {
      this.histograms.get(op)!.record((performance.now() - at) * 1000);
    }
  }
}
