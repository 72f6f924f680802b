import { isWalError } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import type { Clock } from './clock.js';
import {
  type CoreWalWriter,
  type ResumePoint,
  CoreWalWriter as Writer,
} from './core-wal-writer.js';

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
  options: { io?: StorageIo; clock?: Clock; bufferSize?: number } = {},
): Promise<CoreWalWriter> {
  return Writer.openAt(handoff.coreId, handoff.path, handoff.resume.position, {
    ...options,
    from: handoff.resume,
  });
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
    writer.setEpoch(request.epoch);
    writer.appendEpochBarrier();
    const barrier = writer.resumePoint;
    await writer.sync();
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
