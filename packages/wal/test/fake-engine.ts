import {
  validateRecordInput,
  WalError,
  WalErrorCode,
  type WalRecord,
  type WalRecordInput,
} from '@walnut/codec';
import type { RecoveryReport, SegmentInfo } from '@walnut/segmented';
import { MemoryStorageIo, type StorageIo } from '@walnut/storage-io';
import type { EngineFactory, LogEngine } from '../src/engine.js';
import type { WalOptions } from '../src/options.js';
import { Wal } from '../src/wal.js';

/**
 * An in-memory stand-in for SegmentedWal with the same LSN and durability rules, whose
 * flushes and syncs a test can hold, release or fail. Completions arrive on a later
 * event-loop turn, like real I/O.
 */
export class FakeEngine implements LogEngine {
  readonly io: StorageIo = new MemoryStorageIo();
  readonly records: WalRecord[] = [];
  nextLsn = 1n;
  writtenLsn = 0n;
  durableLsn = 0n;
  /** Records are handed over when a flush or sync starts (a real engine's write submission). */
  submittedLsn = 0n;
  readonly activeSegmentFirstLsn: bigint = 1n;
  readonly floorLsn = 1n;
  readonly recoveryReport: RecoveryReport = {
    mode: 'truncate-tail',
    readOnly: false,
    segments: 1,
    records: 0,
    floorLsn: 1n,
    lastLsn: 0n,
    tornTail: null,
    salvaged: [],
    gaps: [],
    removedFiles: [],
    finishedCut: null,
  };
  syncCalls = 0;
  flushCalls = 0;
  closed = false;
  /** While true, syncs wait for `release()`. */
  hold = false;
  private held: (() => void)[] = [];
  /** The next sync (or flush) fails with this error; `rollbackTo` makes it an ENOSPC-like rollback. */
  failNext: { error: unknown; rollbackTo?: bigint } | undefined;
  private listeners: ((lsn: bigint) => void)[] = [];
  private rollbackListeners: ((lastLsn: bigint, error: WalError) => void)[] = [];

  append(record: WalRecordInput): bigint {
    this.checkOpen();
    validateRecordInput(record);
    const lsn = this.nextLsn++;
    this.records.push({ lsn, type: record.type ?? 0, payload: Buffer.from(record.payload) });
    return lsn;
  }

  appendPayload(payload: Uint8Array): bigint {
    return this.append({ payload });
  }

  appendPayloads(payloads: readonly Uint8Array[]): bigint {
    this.checkOpen();
    for (const payload of payloads) validateRecordInput({ payload });
    for (const payload of payloads) this.append({ payload });
    return this.nextLsn - 1n;
  }

  appendBatch(records: readonly WalRecordInput[], firstLsn?: bigint): bigint {
    this.checkOpen();
    if (firstLsn !== undefined && firstLsn !== this.nextLsn) {
      throw new WalError(
        WalErrorCode.LSN_MISMATCH,
        `expected ${firstLsn}, next is ${this.nextLsn}`,
      );
    }
    for (const record of records) validateRecordInput(record);
    for (const record of records) this.append(record);
    return this.nextLsn - 1n;
  }

  flush(): Promise<bigint> {
    this.flushCalls++;
    return this.complete(false);
  }

  sync(): Promise<bigint> {
    this.syncCalls++;
    return this.complete(true);
  }

  dropUnsubmittedAbove(lsn: bigint): bigint {
    const keep = lsn > this.submittedLsn ? lsn : this.submittedLsn;
    if (keep < this.nextLsn - 1n) {
      this.records.length = Number(keep);
      this.nextLsn = keep + 1n;
    }
    return this.nextLsn - 1n;
  }

  release(): void {
    this.hold = false;
    const held = this.held;
    this.held = [];
    for (const finish of held) finish();
  }

  onRollback(listener: (lastLsn: bigint, error: WalError) => void): () => void {
    this.rollbackListeners.push(listener);
    return () => {
      this.rollbackListeners = this.rollbackListeners.filter((l) => l !== listener);
    };
  }

  onDurable(listener: (lsn: bigint) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  async truncateBefore(): Promise<{ segmentsDeleted: number; bytesReclaimed: number }> {
    return { segmentsDeleted: 0, bytesReclaimed: 0 };
  }

  async replayFromLimit(
    lsn: bigint,
    max: number,
  ): Promise<{ records: WalRecord[]; hasMore: boolean }> {
    const visible = this.records.filter((r) => r.lsn >= lsn && r.lsn <= this.writtenLsn);
    return { records: visible.slice(0, max), hasMore: visible.length > max };
  }

  async listSegments(): Promise<readonly SegmentInfo[]> {
    return [fakeSegment({ path: '/fake/1.wal', firstLsn: 1n, lastLsn: this.writtenLsn || null })];
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private complete(durable: boolean): Promise<bigint> {
    const target = this.nextLsn - 1n;
    if (target > this.submittedLsn) this.submittedLsn = target;
    return new Promise<bigint>((resolve, reject) => {
      const finish = () => {
        const failure = this.failNext;
        if (failure) {
          this.failNext = undefined;
          if (failure.rollbackTo !== undefined) {
            this.records.length = Number(failure.rollbackTo - 1n);
            this.nextLsn = failure.rollbackTo;
            if (this.submittedLsn >= this.nextLsn) this.submittedLsn = this.nextLsn - 1n;
            if (this.writtenLsn >= this.nextLsn) this.writtenLsn = this.nextLsn - 1n;
            const lost = failure.error as WalError;
            for (const listener of this.rollbackListeners) listener(this.nextLsn - 1n, lost);
          }
          reject(failure.error);
          return;
        }
        if (target > this.writtenLsn) this.writtenLsn = target;
        if (durable && target > this.durableLsn) {
          this.durableLsn = target;
          for (const listener of this.listeners) listener(target);
        }
        resolve(durable ? this.durableLsn : this.writtenLsn);
      };
      if (this.hold) this.held.push(finish);
      else setImmediate(finish);
    });
  }

  private checkOpen(): void {
    if (this.closed) throw new WalError(WalErrorCode.CLOSED, 'fake engine closed');
  }
}

export function fakeFactory(engine: FakeEngine): EngineFactory {
  return { open: async () => engine };
}

/** A Wal over a FakeEngine (a fresh one unless given), with `options` applied. */
export async function openFakeWal(options: WalOptions = {}, engine = new FakeEngine()) {
  const wal = await Wal.open('/fake')
    .options({ ...options, storageIo: engine.io })
    .withEngine(fakeFactory(engine))
    .build();
  return { wal, engine };
}

/** A segment as SegmentedWal describes it: unencrypted, active unless `sealed` says not. */
export function fakeSegment(
  fields: Pick<SegmentInfo, 'path' | 'firstLsn' | 'lastLsn'> & Partial<SegmentInfo>,
): SegmentInfo {
  return {
    sizeBytes: 0,
    writtenBytes: 0,
    sealed: false,
    encrypted: false,
    keyId: 0,
    compressed: false,
    ...fields,
  };
}
