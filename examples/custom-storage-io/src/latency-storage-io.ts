import {
  ForwardingStorageIo,
  type IoCompletion,
  type IoFd,
  type IoOp,
  type OpenOptions,
  type StorageIoDescription,
  type SubmitOptions,
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
 * `ForwardingStorageIo` passes every call through unchanged; this class overrides only the
 * calls it times, so it behaves exactly like the backend it wraps — which the exported
 * conformance suite checks.
 *
 * Submissions are timed from `submit*` to the moment their completion is handed out
 * (`pollCompletions`, `waitCompletions`, `completion(token)` or `onCompletion`); the promise helpers
 * (`write`, `datasync`, …) are timed around their promise.
 */
export class LatencyRecordingStorageIo extends ForwardingStorageIo {
  private readonly submittedAt = new Map<number, number>();
  private readonly histograms = new Map<IoOp, LatencyHistogram>(
    OPS.map((op) => [op, new LatencyHistogram()]),
  );

  override get name(): string {
    return `latency(${this.inner.name})`;
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

  // Submissions: remember when each token went in.
  override submitOpen(path: string, options?: OpenOptions): number {
    return this.started(this.inner.submitOpen(path, options));
  }
  override submitWrite(
    fd: IoFd,
    data: Uint8Array,
    offset: number,
    options?: SubmitOptions,
  ): number {
    return this.started(this.inner.submitWrite(fd, data, offset, options));
  }
  override submitWritev(
    fd: IoFd,
    buffers: readonly Uint8Array[],
    offset: number,
    options?: SubmitOptions,
  ): number {
    return this.started(this.inner.submitWritev(fd, buffers, offset, options));
  }
  override submitRead(fd: IoFd, into: Uint8Array, offset: number, options?: SubmitOptions): number {
    return this.started(this.inner.submitRead(fd, into, offset, options));
  }
  override submitDatasync(fd: IoFd, options?: SubmitOptions): number {
    return this.started(this.inner.submitDatasync(fd, options));
  }
  override submitFsync(fd: IoFd, options?: SubmitOptions): number {
    return this.started(this.inner.submitFsync(fd, options));
  }
  override submitFallocate(
    fd: IoFd,
    offset: number,
    length: number,
    options?: SubmitOptions,
  ): number {
    return this.started(this.inner.submitFallocate(fd, offset, length, options));
  }
  override submitWriteback(
    fd: IoFd,
    offset: number,
    length: number,
    options?: SubmitOptions,
  ): number {
    return this.started(this.inner.submitWriteback(fd, offset, length, options));
  }

  // Completions: note each one's latency as it is handed out.
  override pollCompletions(): IoCompletion[] {
    return this.finished(this.inner.pollCompletions());
  }
  override async waitCompletions(min?: number): Promise<IoCompletion[]> {
    return this.finished(await this.inner.waitCompletions(min));
  }
  override async completion(token: number): Promise<IoCompletion> {
    const completion = await this.inner.completion(token);
    this.finished([completion]);
    return completion;
  }
  override onCompletion(token: number, callback: (completion: IoCompletion) => void): void {
    this.inner.onCompletion(token, (completion) => {
      this.finished([completion]);
      callback(completion);
    });
  }
  // Promise helpers: timed around the inner backend's own helper.
  override open(path: string, options?: OpenOptions): Promise<IoFd> {
    return this.timed('open', this.inner.open(path, options));
  }
  override write(fd: IoFd, data: Uint8Array, offset: number): Promise<number> {
    return this.timed('write', this.inner.write(fd, data, offset));
  }
  override read(fd: IoFd, into: Uint8Array, offset: number): Promise<number> {
    return this.timed('read', this.inner.read(fd, into, offset));
  }
  override datasync(fd: IoFd): Promise<void> {
    return this.timed('fdatasync', this.inner.datasync(fd));
  }
  override fsync(fd: IoFd): Promise<void> {
    return this.timed('fsync', this.inner.fsync(fd));
  }
  override fallocate(fd: IoFd, offset: number, length: number): Promise<void> {
    return this.timed('fallocate', this.inner.fallocate(fd, offset, length));
  }

  override describe(): StorageIoDescription {
    const inner = this.inner.describe();
    return {
      backend: `latency(${inner.backend})`,
      reason: `latency histograms around ${inner.backend}, chosen because ${inner.reason}`,
      ...(inner.details ? { details: inner.details } : {}),
    };
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
