import { invalidArgument, isWalError, WalError, WalErrorCode } from '@walnut/codec';
import type { ResumePoint } from '../files/resume-point.js';
import { type CoreWalWriter, CoreWalWriter as Writer } from '../write/core-wal-writer.js';
import type { CoreWalWriterOptions } from '../write/core-wal-writer-options.js';

/*
 * The protocol between the manager (main thread) and a worker that owns a core's writer,
 * both sides: the messages, the worker's answers (`serveCoreWriter`, `releaseCoreWriter`)
 * and the manager's requests (`WorkerLink`).
 */

/**
 * The messages between the manager (main thread) and a worker that owns a core's writer.
 * Every message has a `type` starting with `walnut:`, the `coreId` and a `requestId` that the
 * reply echoes, so an application can share the port for its own messages.
 */
export type ManagerRequest =
  /** Set the epoch, append an epoch barrier, sync; reply `walnut:checkpointed`. */
  | {
      type: 'walnut:checkpoint';
      coreId: number;
      requestId: number;
      checkpointId: bigint;
      epoch: bigint;
    }
  /** Reclaim the file's space before `before` (a manifest position); reply `walnut:reclaimed`. */
  | { type: 'walnut:reclaim'; coreId: number; requestId: number; before: number };

export type WorkerReply =
  | {
      type: 'walnut:checkpointed';
      coreId: number;
      requestId: number;
      checkpointId: bigint;
      /** The boundary just after the barrier: the manifest position of this core. */
      barrier: ResumePoint;
      /** The writer's durable position after the sync (≥ barrier.position). */
      syncedPosition: number;
    }
  | { type: 'walnut:reclaimed'; coreId: number; requestId: number; freedBytes: number }
  /**
   * Unsolicited (requestId 0): the worker closed its writer at `resume` and gives the core
   * back; the manager reopens it in-process and answers pending requests itself.
   */
  | { type: 'walnut:released'; coreId: number; requestId: number; resume: ResumePoint }
  | {
      type: 'walnut:failed';
      coreId: number;
      requestId: number;
      code: string;
      message: string;
    };

/** A MessagePort, a Worker or `parentPort`: anything that posts and emits 'message'. */
export interface MessageEndpoint {
  postMessage(message: unknown): void;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  off(event: 'message', listener: (message: unknown) => void): unknown;
}

/** `WAL_BAD_ARGUMENT` unless `endpoint` can carry the protocol both ways. */
export function checkEndpoint(endpoint: unknown): asserts endpoint is MessageEndpoint {
  const missing = (['postMessage', 'on', 'off'] as const).filter(
    (name) => typeof (endpoint as Record<string, unknown> | null)?.[name] !== 'function',
  );
  if (missing.length > 0)
    invalidArgument(
      `endpoint must be a MessagePort, a Worker or parentPort (postMessage, on and off); it lacks ${missing.join(', ')}. Pass port1 of a MessageChannel from node:worker_threads (Bun's global MessageChannel is a web one, whose ports lack on and off) whose port2 the worker serves with serveCoreWriter`,
    );
}

/** What a worker needs to take over a core's writer from the manager (structured-cloneable). */
export interface CoreHandoff {
  readonly coreId: number;
  readonly path: string;
  /** The boundary the manager's writer stopped at (durable). */
  readonly resume: ResumePoint;
  /** `manager.epochRef.buffer`, for `EpochRef.from` in the worker. */
  readonly epochBuffer: SharedArrayBuffer;
}

export function isManagerRequest(message: unknown): message is ManagerRequest {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'walnut:checkpoint' || type === 'walnut:reclaim';
}

export function isWorkerReply(message: unknown): message is WorkerReply {
  const type = (message as { type?: unknown } | null)?.type;
  return (
    type === 'walnut:checkpointed' ||
    type === 'walnut:reclaimed' ||
    type === 'walnut:released' ||
    type === 'walnut:failed'
  );
}

/** Opens the writer a manager handed off, in the worker (no rescan of the file). */
export function openHandedOffWriter(
  handoff: CoreHandoff,
  options: CoreWalWriterOptions = {},
): Promise<CoreWalWriter> {
  const { coreId, path } = handoff;
  return Writer.openAtKnownEnd(
    coreId,
    path,
    handoff.resume.position,
    { ...options, from: handoff.resume },
    (position) =>
      new WalError(
        WalErrorCode.BAD_STATE,
        `${path} holds entries of core ${coreId} after position ${position}, where this handoff starts: a worker opened the handoff before and wrote on; nothing was cut. A handoff opens its core once: to give core ${coreId} to another worker after its worker ended, take it back with manager.takeBack(${coreId}) and hand it off again`,
        { details: { segment: path, offset: position, coreId } },
      ),
  );
}

/**
 * Answers the manager's requests for `writer` on `endpoint` (in the worker that owns it).
 * Returns a function that stops answering.
 */
export function serveCoreWriter(writer: CoreWalWriter, endpoint: MessageEndpoint): () => void {
  const listener = (message: unknown): void => {
    if (!isManagerRequest(message) || message.coreId !== writer.coreId) return;
    void answer(writer, message).then(
      (reply) => endpoint.postMessage(reply),
      (error: unknown) =>
        endpoint.postMessage({
          type: 'walnut:failed',
          coreId: writer.coreId,
          requestId: message.requestId,
          code: isWalError(error) ? error.code : 'WAL_IO',
          message: error instanceof Error ? error.message : String(error),
        } satisfies WorkerReply),
    );
  };
  endpoint.on('message', listener);
  return () => endpoint.off('message', listener);
}

async function answer(writer: CoreWalWriter, request: ManagerRequest): Promise<WorkerReply> {
  if (request.type === 'walnut:checkpoint') {
    const barrier = await writeEpochBarrier(writer, request.epoch);
    return {
      type: 'walnut:checkpointed',
      coreId: writer.coreId,
      requestId: request.requestId,
      checkpointId: request.checkpointId,
      barrier,
      syncedPosition: writer.syncedPosition,
    };
  }
  const freedBytes = await writer.reclaimBefore(request.before);
  return {
    type: 'walnut:reclaimed',
    coreId: writer.coreId,
    requestId: request.requestId,
    freedBytes,
  };
}

/**
 * Gives the core back to the manager when the worker is done with it: stops answering
 * requests (`stopServing`, from `serveCoreWriter`), closes (syncs) the writer and posts
 * `walnut:released`. Requests the manager sent meanwhile are answered by the manager itself.
 */
export async function releaseCoreWriter(
  writer: CoreWalWriter,
  endpoint: MessageEndpoint,
  stopServing: () => void,
): Promise<void> {
  stopServing();
  await writer.close();
  endpoint.postMessage({
    type: 'walnut:released',
    coreId: writer.coreId,
    requestId: 0,
    resume: writer.resumePoint,
  } satisfies WorkerReply);
}

// The manager's side.

/** Rejection of requests pending when a worker released its core (they are redone in-process). */
export const RELEASED = Symbol('released');

/**
 * Sets the epoch, appends an epoch barrier and syncs; returns the boundary just after the
 * barrier. What a worker does for `walnut:checkpoint`, and the manager for a core it holds.
 */
export async function writeEpochBarrier(
  writer: CoreWalWriter,
  epoch: bigint,
): Promise<ResumePoint> {
  writer.setEpoch(epoch);
  writer.appendEpochBarrier();
  const point = writer.resumePoint;
  await writer.sync();
  return point;
}

/** The manager's side of one worker's port: requests out, matching replies back. */
export class WorkerLink {
  private readonly waiting = new Map<number, (reply: WorkerReply | typeof RELEASED) => void>();
  private endLink!: () => void;
  /** Settles once the manager stops listening: the core was released or taken back, or the manager closed. */
  readonly ended = new Promise<void>((resolve) => {
    this.endLink = resolve;
  });
  private readonly listener = (message: unknown): void => {
    if (!isWorkerReply(message) || message.coreId !== this.coreId) return;
    if (message.type === 'walnut:released') {
      this.detach();
      this.onReleased(message.resume);
      this.releaseWaiting();
      return;
    }
    this.waiting.get(message.requestId)?.(message);
  };

  constructor(
    readonly coreId: number,
    private readonly endpoint: MessageEndpoint,
    private readonly timeoutMs: number,
    private readonly onReleased: (resume: ResumePoint) => void,
  ) {
    endpoint.on('message', this.listener);
  }

  request(message: ManagerRequest, expect: WorkerReply['type']): Promise<WorkerReply> {
    return new Promise<WorkerReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(message.requestId);
        reject(
          new WalError(
            WalErrorCode.TIMEOUT,
            `the worker of core ${this.coreId} did not answer ${message.type} within ${this.timeoutMs} ms; is it running serveCoreWriter()? A worker that ended without releaseCoreWriter never answers: take its core back with manager.takeBack(${this.coreId})`,
          ),
        );
      }, this.timeoutMs);
      this.waiting.set(message.requestId, (reply) => {
        clearTimeout(timer);
        this.waiting.delete(message.requestId);
        if (reply === RELEASED) reject(RELEASED);
        else if (reply.type === expect) resolve(reply);
        else if (reply.type === 'walnut:failed')
          reject(
            new WalError(
              (reply.code.startsWith('WAL_') ? reply.code : WalErrorCode.IO) as WalErrorCode,
              `core ${this.coreId} (worker) failed ${message.type}: ${reply.message}`,
              { details: { coreId: this.coreId } },
            ),
          );
        else
          reject(
            new WalError(
              WalErrorCode.BAD_STATE,
              `core ${this.coreId}: unexpected reply ${reply.type}`,
            ),
          );
      });
      this.endpoint.postMessage(message);
    });
  }

  detach(): void {
    this.endpoint.off('message', this.listener);
    this.endLink();
  }

  /** The core was taken back from a worker that ended: requests waiting on it are redone. */
  abandon(): void {
    this.detach();
    this.releaseWaiting();
  }

  private releaseWaiting(): void {
    for (const settle of [...this.waiting.values()]) settle(RELEASED);
  }
}
