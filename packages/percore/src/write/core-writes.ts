import { ioErrorFromNode, type WalError } from '@walnut/codec';
import {
  type IoCompletion,
  type IoFd,
  judgeWrite,
  linkedSyncRan,
  type StorageIo,
  sendRest,
  wasCancelled,
  writeError,
} from '@walnut/storage-io';
import { type CoreWrite, type PendingSync, syncCoverage } from './pending-io.js';
import type { WriteBuffer, WriteBufferPool } from './write-buffers.js';

/**
 * A core file's writes and fdatasyncs in flight, and how far they have made it durable.
 * Every completion is judged by the write core's rules (decision 0214): a short write's rest
 * is sent again, an operation cancelled behind it goes out again, a failed write or sync
 * poisons; `synced` advances only as far as the coverage rule allows (decision 0501).
 *
 * CoreWalWriter decides what to write and when to sync; this does the I/O. Where a call
 * needs the writer's end, it is passed in as `end` (its position now) and `entries` (how
 * many entries end there), so that the writer keeps counting entries without a call.
 */
export class CoreWrites {
  /** The file being written; reclaimBefore replaces it with its sparse rewrite. */
  fd: IoFd;
  private syncedTo: number;
  private entriesSynced = 0;
  private failed: WalError | null = null;
  /**
   * Where the first write that failed began (an entry boundary), or Infinity: the bytes from
   * there on may never land, so no sync, even one that succeeded beside it, covers them.
   */
  private holeFrom = Number.POSITIVE_INFINITY;
  /** (end position, entries written up to it) of every submitted write not yet durable. */
  private readonly boundaries: Array<{ position: number; entries: number }> = [];
  private readonly pendingWrites = new Map<number, CoreWrite>();
  private readonly directWrites = new Set<Promise<void>>();
  private readonly pendingSyncs: PendingSync[] = [];
  /** The token of the newest write submitted (its first part). */
  private lastOrder = -1;
  /**
   * After a short write, the newest write submitted when it was seen: until every write up
   * to it has landed (rests sent again and writes cancelled behind it included), no sync
   * goes out. A rest goes out unlinked, so a sync sent now could run behind later writes
   * but before it, and make them durable past the hole it fills: a log that reads as
   * mid-file damage after a power loss. -1: no short write being repaired.
   */
  private repairUpTo = -1;
  /**
   * Positions of StorageIo-path syncs asked for during a repair or cancelled behind a short
   * write, sent once the repair is over.
   */
  private readonly owedSyncs: number[] = [];
  /**
   * Coverage of StorageIo-path syncs that completed while other syncs of this file still ran,
   * with the tokens of those: Linux hands a file's writeback error to one of the fdatasyncs
   * running on it, so a sync's success counts only once the syncs beside it came back clean.
   */
  private readonly heldCoverage: Array<{ position: number; beside: Set<number> }> = [];

  constructor(
    private readonly io: StorageIo,
    fd: IoFd,
    private readonly path: string,
    private readonly buffers: WriteBufferPool,
    synced: number,
  ) {
    this.fd = fd;
    this.syncedTo = synced;
  }

  /** Durable position: only bytes before it are guaranteed to survive a crash. */
  get synced(): number {
    return this.syncedTo;
  }

  /** Entries that end at or before `synced`. */
  get entriesAtSynced(): number {
    return this.entriesSynced;
  }

  /** The first failed write or sync, or null: once set, the writer is poisoned. */
  get failure(): WalError | null {
    return this.failed;
  }

  get hasPendingWrites(): boolean {
    return this.pendingWrites.size > 0;
  }

  /** True while a submitted sync has not completed (or one cancelled is still owed). */
  get isSyncPending(): boolean {
    return this.pendingSyncs.length > 0 || this.owedSyncs.length > 0;
  }

  /** True while the StorageIo path has a write or sync whose completion the caller feeds. */
  get storageIoPathPending(): boolean {
    return [...this.pendingWrites.values()].some((w) => !w.direct) || this.pendingSyncs.length > 0;
  }

  /**
   * Submits `buffer`'s encoded bytes not yet submitted as one write, chained behind this
   * file's earlier operations so that a sync chained behind it runs after all of them.
   * Returns its token (-1 when there was nothing to write). The direct path claims it with
   * `claimDirectWrite` only after queueing whatever is linked behind it: a claim flushes,
   * and a linked fdatasync sent later waits for the write to complete instead of going
   * into the kernel with it. `entries`: how many entries end where the write ends.
   */
  submit(buffer: WriteBuffer, direct: boolean, entries: number): number {
    if (buffer.submitted === buffer.used) return -1;
    const start = buffer.fileOffset + buffer.submitted;
    const data = buffer.buf.subarray(buffer.submitted, buffer.used);
    const token = this.io.submitWrite(this.fd, data, start, {
      linkToPrevious: this.hasPendingOps(),
    });
    const write: CoreWrite = {
      buf: data,
      fileOffset: start,
      length: data.length,
      done: 0,
      token,
      order: token,
      buffer,
      direct,
    };
    buffer.submitted = buffer.used;
    buffer.inFlight++;
    this.lastOrder = token;
    this.pendingWrites.set(token, write);
    // The writer's current buffer always ends at its position, so this write ends there too.
    this.boundaries.push({ position: start + data.length, entries });
    return token;
  }

  /**
   * The direct path owns its write completions (the StorageIo path's come through `take`).
   * They are taken by callback, in the order they arrive, as the direct sync's is
   * (`syncArrival`): so a sync's coverage is judged against the writes whose completions
   * came before it, as on the StorageIo path.
   */
  claimDirectWrite(token: number): void {
    let settled!: () => void;
    const done = new Promise<void>((resolve) => {
      settled = resolve;
    });
    this.directWrites.add(done);
    this.io.onCompletion(token, (completion) => {
      this.directWrites.delete(done);
      this.onWriteCompletion(completion);
      settled();
    });
  }

  /**
   * The direct sync's completion, with its coverage judged when it arrives: a write still in
   * flight then (a short write's rest, sent unlinked) may have missed the fdatasync.
   */
  syncArrival(sync: PendingSync): Promise<{ completion: IoCompletion; covered: number }> {
    return new Promise((resolve) => {
      this.io.onCompletion(sync.token, (completion) => {
        resolve({ completion, covered: syncCoverage(sync, this.pendingWrites.values()) });
      });
    });
  }

  /** Every direct write in flight now, settled (or the first to fail). */
  directWritesInFlight(): Promise<unknown> {
    return Promise.all(this.directWrites);
  }

  /** Until no direct write is in flight, the rests sent after short ones included. */
  async settleDirectWrites(): Promise<void> {
    while (this.directWrites.size > 0) await Promise.all(this.directWrites);
  }

  /** An fdatasync chained behind every operation in flight, to make `end` durable. */
  submitSync(end: number, direct: boolean): PendingSync {
    const token = this.io.submitDatasync(this.fd, { linkToPrevious: this.hasPendingOps() });
    const sync: PendingSync = { token, position: end, direct };
    this.pendingSyncs.push(sync);
    return sync;
  }

  /**
   * True while a short write is being repaired (`repairUpTo`): a sync must wait. The direct
   * path waits for its writes to settle; the StorageIo path owes the sync.
   */
  get repairing(): boolean {
    if (this.repairUpTo < 0) return false;
    for (const write of this.pendingWrites.values())
      if (write.order <= this.repairUpTo) return true;
    this.repairUpTo = -1;
    return false;
  }

  /**
   * The StorageIo path's sync of everything up to `end`: the pending sync's token when that
   * already covers `end`, otherwise a new sync chained behind the writes; -1 while a short
   * write is repaired, when the sync is owed and goes out once the repair is over (a later
   * `checkCompletions` reports it as any other). Flushes.
   */
  requestSync(end: number): number {
    if (this.repairing) {
      if (this.owedSyncs.at(-1) !== end) this.owedSyncs.push(end);
      this.io.flush();
      return -1;
    }
    const last = this.pendingSyncs.at(-1);
    const token =
      last !== undefined && !last.direct && last.position === end
        ? last.token
        : this.submitSync(end, false).token;
    this.io.flush();
    return token;
  }

  /**
   * Takes a `pollCompletions`/`waitCompletions` round (other users' completions are
   * ignored). Returns true when a pending sync completed; throws the failure when a write
   * or sync failed.
   */
  take(completions: readonly IoCompletion[], end: number, entries: number): boolean {
    let syncCompleted = false;
    for (const completion of completions) {
      if (this.pendingWrites.has(completion.token)) this.onWriteCompletion(completion);
      else {
        const sync = this.pendingSyncs.find((s) => s.token === completion.token);
        if (sync === undefined) continue;
        if (this.onSyncCompletion(sync, completion, end, entries))
          syncCompleted = this.failed === null;
      }
      if (this.failed !== null) throw this.failed;
    }
    return syncCompleted;
  }

  /**
   * Takes a sync's completion; false when it did not run: cancelled behind a short write
   * (`linkedSyncRan`), a StorageIo-path sync is sent again behind the rest, while the direct
   * path loops by itself. A failed sync poisons. `covered`: the coverage judged when the
   * completion arrived (`syncArrival`), for a caller that settles writes before this call.
   */
  onSyncCompletion(
    sync: PendingSync,
    completion: IoCompletion,
    end: number,
    entries: number,
    covered?: number,
  ): boolean {
    const index = this.pendingSyncs.indexOf(sync);
    if (index >= 0) this.pendingSyncs.splice(index, 1);
    let ran: boolean;
    try {
      ran = linkedSyncRan(completion.result, this.path);
    } catch (error) {
      this.fail(error as WalError);
      return true;
    }
    // Came back clean (or never ran): coverage held behind it may count now.
    this.releaseHeld(sync.token, end, entries);
    if (!ran) {
      if (!sync.direct && this.failed === null) this.syncAgain(sync);
      return false;
    }
    const position = covered ?? syncCoverage(sync, this.pendingWrites.values());
    // The direct path runs one sync at a time and waits for it; it is never held.
    if (!sync.direct && this.pendingSyncs.length > 0) {
      this.heldCoverage.push({ position, beside: new Set(this.pendingSyncs.map((s) => s.token)) });
    } else {
      this.advanceTo(position, end, entries);
    }
    return true;
  }

  /** `token`'s sync came back clean: applies, in order, the coverage that waited only for it. */
  private releaseHeld(token: number, end: number, entries: number): void {
    const held = this.heldCoverage;
    for (const h of held) h.beside.delete(token);
    while (held.length > 0 && held[0]!.beside.size === 0) {
      this.advanceTo(held.shift()!.position, end, entries);
    }
  }

  /** Moves `synced` up to `position`; `end` and `entries` are the writer's now. */
  advanceTo(position: number, end: number, entries: number): void {
    position = Math.min(position, this.holeFrom);
    if (position <= this.syncedTo) return;
    this.syncedTo = position;
    if (position === end) this.entriesSynced = entries;
    while (this.boundaries.length > 0 && this.boundaries[0]!.position <= position) {
      const boundary = this.boundaries.shift()!;
      if (boundary.position === position) this.entriesSynced = boundary.entries;
    }
  }

  /**
   * Sends again the part of `write` its completions did not confirm (the short-write rule,
   * `judgeWrite`): the kernel reports a filling disk as a short write, and the rest brings
   * the real outcome. The rest keeps the write's place in submission order for sync coverage.
   */
  private resend(write: CoreWrite): void {
    let token: number;
    try {
      token = sendRest(this.io, this.fd, write);
    } catch (error) {
      this.writeSettled(write);
      this.writeFailed(write, ioErrorFromNode(error, 'write', this.path));
      return;
    }
    write.token = token;
    this.pendingWrites.set(token, write);
    this.repairUpTo = Math.max(this.repairUpTo, this.lastOrder);
    if (write.direct) this.claimDirectWrite(token);
    else this.io.flush();
  }

  private hasPendingOps(): boolean {
    return this.pendingWrites.size > 0 || this.pendingSyncs.length > 0;
  }

  private onWriteCompletion(completion: IoCompletion): void {
    const write = this.pendingWrites.get(completion.token);
    if (write === undefined) return;
    this.pendingWrites.delete(completion.token);
    this.judge(write, completion.result);
    if (this.owedSyncs.length > 0 && !this.repairing) this.payOwedSyncs();
  }

  private judge(write: CoreWrite, result: number): void {
    const left = judgeWrite(write, result);
    if (left === 0) {
      this.writeSettled(write);
      return;
    }
    // Short: the rest goes out again. Cancelled, linked behind a write that was short: it
    // did not run, and goes out again whole.
    if (left > 0 || (wasCancelled(result) && this.failed === null)) {
      this.resend(write);
      return;
    }
    this.writeSettled(write);
    this.writeFailed(write, writeError(write, result, this.path));
  }

  private writeFailed(write: CoreWrite, error: WalError): void {
    if (write.fileOffset < this.holeFrom) this.holeFrom = write.fileOffset;
    this.fail(error);
  }

  /** No part of `write` is in flight any more. */
  private writeSettled(write: CoreWrite): void {
    const buffer = write.buffer;
    // Only a retired buffer's last write can free it: no call into the pool per entry.
    if (--buffer.inFlight === 0 && buffer.retired) this.buffers.recycle(buffer);
  }

  /** A StorageIo-path sync was cancelled: the same coverage, asked for again after the repair. */
  private syncAgain(sync: PendingSync): void {
    this.owedSyncs.push(sync.position);
    if (!this.repairing) this.payOwedSyncs();
  }

  private payOwedSyncs(): void {
    if (this.failed !== null) return;
    for (const position of this.owedSyncs.splice(0)) {
      const token = this.io.submitDatasync(this.fd, { linkToPrevious: this.hasPendingOps() });
      this.pendingSyncs.push({ token, position, direct: false });
    }
    this.io.flush();
  }

  private fail(error: WalError): void {
    if (this.failed === null) this.failed = error;
  }
}
