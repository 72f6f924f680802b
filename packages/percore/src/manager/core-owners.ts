import { badArgument, WalError, WalErrorCode } from '@walnut/codec';
import type { ResumePoint } from '../files/resume-point.js';
import { CoreWalWriter } from '../write/core-wal-writer.js';
import type { CoreWalWriterOptions } from '../write/core-wal-writer-options.js';
import {
  type CoreHandoff,
  checkEndpoint,
  type MessageEndpoint,
  RELEASED,
  WorkerLink,
  writeEpochBarrier,
} from './protocol.js';

/**
 * Who writes each core: the manager's in-process writer, the worker it was handed off to, or
 * nobody yet while a core a worker released is being reopened in-process. A barrier or a
 * reclaim goes to whichever holds the core, and is redone in-process when a worker releases
 * its core with the request pending (docs/decisions/0504-percore-worker-handoff-protocol.md).
 */
export class CoreOwners {
  private readonly writers: Map<number, CoreWalWriter>;
  private readonly workers = new Map<number, WorkerLink>();
  /** Cores whose worker released them, while their writer is being reopened in-process. */
  private readonly reacquiring = new Map<number, Promise<CoreWalWriter>>();
  /** Cores being taken back: settles, once the writer is installed, to it or to undefined. */
  private readonly takingBack = new Map<number, Promise<CoreWalWriter | undefined>>();
  /** Cores whose writer failed to reopen after their worker released them: why. */
  private readonly stranded = new Map<number, unknown>();
  private readonly numCores: number;
  private readonly corePath: (coreId: number) => string;
  private readonly writerOptions: CoreWalWriterOptions;
  private readonly requestTimeoutMs: number;
  private readonly epochBuffer: SharedArrayBuffer;
  private nextRequestId = 1;
  private closed = false;

  constructor(
    writers: Map<number, CoreWalWriter>,
    settings: {
      readonly numCores: number;
      readonly corePath: (coreId: number) => string;
      readonly writerOptions: CoreWalWriterOptions;
      readonly requestTimeoutMs: number;
      readonly epochBuffer: SharedArrayBuffer;
    },
  ) {
    this.writers = writers;
    this.numCores = settings.numCores;
    this.corePath = settings.corePath;
    this.writerOptions = settings.writerOptions;
    this.requestTimeoutMs = settings.requestTimeoutMs;
    this.epochBuffer = settings.epochBuffer;
  }

  /** The in-process writer of `coreId`, or undefined (out of range, or owned by a worker). */
  inProcess(coreId: number): CoreWalWriter | undefined {
    return this.writers.get(coreId);
  }

  /** The in-process writer of `coreId`; `WAL_BAD_ARGUMENT`/`WAL_BAD_STATE` if there is none. */
  writer(coreId: number): CoreWalWriter {
    const writer = this.writers.get(coreId);
    if (writer !== undefined) return writer;
    if (this.reacquiring.has(coreId))
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${coreId} is being taken back from its worker; retry once its writer is reopened`,
      );
    if (this.stranded.has(coreId)) throw this.strandedError(coreId);
    if (this.workers.has(coreId))
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${coreId} was handed off to a worker; only that worker writes it, until releaseCoreWriter gives it back. If the worker ended without releasing it (a crash, worker.terminate()), take the core back with manager.takeBack(${coreId})`,
      );
    badArgument('coreId', `an integer from 0 to ${this.numCores - 1}`, coreId);
  }

  /**
   * The in-process writer of `coreId` once the manager writes it again: at once if it does,
   * else once its worker's release (awaited up to `timeoutMs`) has reopened it.
   */
  async writerAfterRelease(
    coreId: number,
    timeoutMs = this.requestTimeoutMs,
  ): Promise<CoreWalWriter> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.closed) throw WalError.closed(`core ${coreId}'s manager`);
      const writer = this.writers.get(coreId);
      if (writer !== undefined) return writer;
      const reopening = this.reacquiring.get(coreId) ?? this.takingBack.get(coreId);
      if (reopening !== undefined) {
        await reopening;
        continue;
      }
      if (this.stranded.has(coreId)) throw this.strandedError(coreId);
      const link = this.workers.get(coreId);
      if (link === undefined)
        badArgument('coreId', `an integer from 0 to ${this.numCores - 1}`, coreId);
      if (!(await settlesWithin(link.ended, deadline - Date.now())))
        throw new WalError(
          WalErrorCode.TIMEOUT,
          `the worker of core ${coreId} did not release it within ${timeoutMs} ms (releaseCoreWriter). If it ended without releasing it, take the core back with manager.takeBack(${coreId})`,
          { details: { coreId } },
        );
    }
  }

  /** Syncs and closes the in-process writer; from now on `endpoint` answers for the core. */
  async handOff(coreId: number, endpoint: MessageEndpoint): Promise<CoreHandoff> {
    const writer = this.writer(coreId);
    // Before the writer closes: a core must never be left with no owner.
    checkEndpoint(endpoint);
    await writer.close();
    this.writers.delete(coreId);
    this.workers.set(
      coreId,
      new WorkerLink(coreId, endpoint, this.requestTimeoutMs, (resume) =>
        this.reacquire(coreId, resume),
      ),
    );
    return {
      coreId,
      path: writer.path,
      resume: writer.resumePoint,
      epochBuffer: this.epochBuffer,
    };
  }

  /**
   * The core's epoch barrier, synced; resolves to the boundary just after it. An in-process
   * writer gets its barrier synchronously (before this returns a promise).
   */
  barrier(coreId: number, checkpointId: bigint, epoch: bigint): Promise<ResumePoint> {
    const writer = this.writers.get(coreId);
    if (writer !== undefined) return writeEpochBarrier(writer, epoch);
    const reacquiring = this.reacquiring.get(coreId);
    if (reacquiring !== undefined) return reacquiring.then((w) => writeEpochBarrier(w, epoch));
    return this.link(coreId)
      .request(
        { type: 'walnut:checkpoint', coreId, requestId: this.nextRequestId++, checkpointId, epoch },
        'walnut:checkpointed',
      )
      .then(
        (reply) => {
          if (reply.type !== 'walnut:checkpointed' || reply.syncedPosition < reply.barrier.position)
            throw new WalError(
              WalErrorCode.BAD_STATE,
              `the worker of core ${coreId} answered the checkpoint without syncing its barrier`,
            );
          return reply.barrier;
        },
        (error: unknown) => {
          if (error === RELEASED) return this.barrier(coreId, checkpointId, epoch);
          throw error;
        },
      );
  }

  /** Has the core's owner free the space before `before`; resolves to the bytes freed. */
  async reclaim(coreId: number, before: number): Promise<number> {
    for (;;) {
      const writer = this.writers.get(coreId) ?? (await this.reacquiring.get(coreId));
      if (writer !== undefined) return writer.reclaimBefore(before);
      const reply = await this.link(coreId)
        .request(
          { type: 'walnut:reclaim', coreId, requestId: this.nextRequestId++, before },
          'walnut:reclaimed',
        )
        .catch((error: unknown) => {
          if (error === RELEASED) return null;
          throw error;
        });
      if (reply?.type === 'walnut:reclaimed') return reply.freedBytes;
    }
  }

  /**
   * Closes the in-process writers (syncing them, once any reopening has settled) and stops
   * listening to workers. Resolves to the errors of the writers that failed to close.
   */
  async close(): Promise<unknown[]> {
    const errors: unknown[] = [];
    this.closed = true;
    await Promise.allSettled([...this.reacquiring.values(), ...this.takingBack.values()]);
    for (const writer of this.writers.values()) await writer.close().catch((e) => errors.push(e));
    for (const link of this.workers.values()) link.detach();
    return errors;
  }

  /**
   * Takes back a core whose worker ended without `releaseCoreWriter`, or whose writer failed
   * to reopen after its release: reopens its writer in-process at the file's valid end
   * (`findEnd`, scanned before the lock is taken, so an entry past it means the worker still
   * writes), and redoes here the requests that waited on the worker. `WAL_LOCKED`, nothing
   * cut, while the worker's writer is open. A release that lands meanwhile waits for this
   * reopen and keeps its writer, or reopens the core itself if this one failed.
   */
  async takeBack(coreId: number, findEnd: () => Promise<ResumePoint>): Promise<void> {
    const link = this.workers.get(coreId);
    if (link === undefined && !this.stranded.has(coreId)) {
      if (this.writers.has(coreId) || this.reacquiring.has(coreId))
        throw new WalError(
          WalErrorCode.BAD_STATE,
          `core ${coreId} is not handed off to a worker: the manager writes it already`,
        );
      badArgument('coreId', `an integer from 0 to ${this.numCores - 1}`, coreId);
    }
    if (this.takingBack.has(coreId))
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${coreId} is being taken back already; await that takeBack`,
      );
    const reopened = this.reopenAtEnd(coreId, findEnd).then((writer) => {
      this.stranded.delete(coreId);
      if (this.workers.get(coreId) === link) this.workers.delete(coreId);
      this.writers.set(coreId, writer);
      link?.abandon();
      return writer;
    });
    this.takingBack.set(
      coreId,
      reopened.catch(() => undefined),
    );
    try {
      await reopened;
    } catch (error) {
      // The worker released the core meanwhile (its lock was still held when this reopen
      // tried): the release's own reopen, which waited for this one, gives the core its writer.
      const reacquiring = this.reacquiring.get(coreId);
      if (reacquiring === undefined) throw error;
      await reacquiring;
    } finally {
      this.takingBack.delete(coreId);
    }
  }

  private async reopenAtEnd(
    coreId: number,
    findEnd: () => Promise<ResumePoint>,
  ): Promise<CoreWalWriter> {
    const end = await findEnd();
    const path = this.corePath(coreId);
    return CoreWalWriter.openAtKnownEnd(
      coreId,
      path,
      end.position,
      { ...this.writerOptions, from: end },
      (position) =>
        new WalError(
          WalErrorCode.LOCKED,
          `${path} grew past ${position} while core ${coreId} was being taken back: its worker still writes it; nothing was cut. Take a core back only after its worker ended`,
          { details: { segment: path, offset: position, coreId } },
        ),
    );
  }

  /**
   * A worker gave its core back: reopen the writer in-process where the worker left it, or
   * keep the one a takeBack under way reopens. A failed reopen strands the core until
   * takeBack.
   */
  private reacquire(coreId: number, resume: ResumePoint): void {
    this.workers.delete(coreId);
    const takenBack = this.takingBack.get(coreId) ?? Promise.resolve(undefined);
    const reopening = takenBack
      .then(
        (taken) =>
          taken ??
          CoreWalWriter.openAt(coreId, this.corePath(coreId), resume.position, {
            ...this.writerOptions,
            from: resume,
          }),
      )
      .then(
        (writer) => {
          this.writers.set(coreId, writer);
          this.reacquiring.delete(coreId);
          return writer;
        },
        (error: unknown) => {
          this.reacquiring.delete(coreId);
          this.stranded.set(coreId, error);
          throw error;
        },
      );
    reopening.catch(() => {});
    this.reacquiring.set(coreId, reopening);
  }

  private strandedError(coreId: number): WalError {
    const cause = this.stranded.get(coreId);
    return new WalError(
      WalErrorCode.BAD_STATE,
      `core ${coreId} has no writer: its worker released it, but reopening it here failed (${cause instanceof Error ? cause.message : String(cause)}); nothing was cut. Take it back with manager.takeBack(${coreId}) once that is fixed`,
      { cause, details: { coreId } },
    );
  }

  private link(coreId: number): WorkerLink {
    const link = this.workers.get(coreId);
    if (this.stranded.has(coreId)) throw this.strandedError(coreId);
    if (link === undefined)
      throw new WalError(
        WalErrorCode.BAD_STATE,
        `core ${coreId} has neither a writer nor a worker`,
      );
    return link;
  }
}

/** True once `promise` settles, false if `ms` pass first. */
function settlesWithin(promise: Promise<void>, ms: number): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    void promise.then(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
