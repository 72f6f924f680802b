// Wiring, and nothing else: builds the parts a Wal is the front of and connects each one's
// host callbacks to the others and to the engine's events. Only wal.ts imports this file.
import { SuffixCuts } from '@walnut/segmented';
import { CursorRegistry } from '../cursors/cursor-registry.js';
import type { LogEngine } from '../engine.js';
import type { WalRuntimeOptions } from '../options.js';
import type { WalCounters } from '../wal-stats.js';
import { AppendQueue } from './append/append-queue.js';
import type { GroupCommit } from './commit/group-commit.js';
import type { LatencyHistogram } from './commit/latency-histogram.js';
import { FailureHandling } from './lifecycle/failure-handling.js';
import { Shutdown } from './lifecycle/shutdown.js';
import { CutRun } from './lifecycle/suffix-cut.js';
import { WalStatus } from './lifecycle/wal-status.js';
import { ReadSide } from './read/read-side.js';
import { closedError } from './refusals.js';

/** The parts of a Wal (docs/decisions/0620-wal-seams.md). */
export interface WalParts {
  status: WalStatus;
  queue: AppendQueue;
  commit: GroupCommit;
  failures: FailureHandling;
  ending: Shutdown;
  reads: ReadSide;
  /** The log's suffix cuts: its own, or a read-only engine's (the writer's, as found). */
  cuts: SuffixCuts;
  cutRun: CutRun;
  cursorRegistry: CursorRegistry;
  /** Stops following the engine's events (durable, written, rolled back). */
  unsubscribe(): void;
}

/** What the parts ask of the front. */
export interface WalFront {
  counters: WalCounters;
  latency: LatencyHistogram;
  /** The floor a retention pass is deleting below, while it runs. */
  retentionCutting(): bigint | undefined;
  /** durableLsn advanced. */
  durable(durable: bigint): void;
  sync(): Promise<bigint>;
  /** Stops what runs beside the log (retention, cursors, commits) and closes the engine. */
  release(): Promise<void>;
}

/**
 * Builds the parts of a Wal over `engine` and wires them. The callbacks refer to parts
 * built after them: none runs before this returns.
 */
export function wireWal(
  dir: string,
  engine: LogEngine,
  options: WalRuntimeOptions,
  front: WalFront,
): WalParts {
  const { durability, readOnly } = options;
  const { counters } = front;
  const cuts = (readOnly ? engine.suffixCuts : undefined) ?? new SuffixCuts();
  const status = new WalStatus(readOnly);
  const settlesOnWrite = durability !== 'sync' && engine.onWritten !== undefined;
  let failures: FailureHandling;
  let reads: ReadSide;
  let cutRun: CutRun;
  const queue = new AppendQueue(
    engine,
    {
      durability,
      maxGroupWaitMs: options.maxGroupWaitMs,
      settlesOnWrite,
      maxQueueBytes: options.maxQueueBytes,
      backpressure: options.backpressure,
    },
    counters,
    front.latency,
    {
      isClosed: () => status.closed,
      poison: () => status.poison,
      appendFailed: (error) => failures.appendFailed(error),
      engineFailed: (error) => failures.engineFailed(error),
    },
  );
  const commit = queue.commit;
  const wakeEveryone = (): void => {
    queue.wakeProgress();
    reads.wake();
  };
  const stopped = (): void => {
    commit.stopInterval();
    wakeEveryone();
  };
  failures = new FailureHandling({ dir, durability, engine, status, queue, counters, stopped });
  const release = (): Promise<void> => front.release();
  const ending = new Shutdown({ engine, status, queue, durability, readOnly, stopped, release });
  const offDurable = engine.onDurable((durable) => front.durable(durable));
  const offRollback = engine.onRollback((last, error) => failures.rolledBack(last, error));
  reads = new ReadSide(
    engine,
    options.openSegment,
    readOnly,
    {
      isClosed: () => status.closed,
      poisonedError: () => status.poisonedError(),
      cutSettled: () => cutRun.settled(),
    },
    cuts,
    readOnly || durability === 'sync',
  );
  cutRun = new CutRun({
    engine,
    status,
    cuts,
    queue,
    failures,
    sync: () => front.sync(),
    moved: wakeEveryone,
  });
  const cursorRegistry = new CursorRegistry({
    dir,
    io: engine.io,
    readOnly,
    // A retention pass deleting below a cursor's commit refuses it as the floor would.
    floorLsn: () => {
      const cutting = front.retentionCutting();
      return cutting !== undefined && cutting > engine.floorLsn ? cutting : engine.floorLsn;
    },
    durableLsn: () => engine.durableLsn,
    catchUp: async () => {
      if (readOnly) await reads.catchUp();
    },
    tail: (from, tailOptions, read) => reads.tail(from, tailOptions, read),
    cutGeneration: () => cuts.generation,
    refusal: () => (status.closed ? closedError() : status.poisonedError()),
  });
  const offWritten = settlesOnWrite ? followWrites(engine, queue, reads) : () => {};
  const unsubscribe = (): void => {
    offDurable();
    offWritten();
    offRollback();
  };
  return {
    status,
    queue,
    commit,
    failures,
    ending,
    reads,
    cuts,
    cutRun,
    cursorRegistry,
    unsubscribe,
  };
}

/** The queue settles as writes complete, and readers wake as records count as written. */
function followWrites(engine: LogEngine, queue: AppendQueue, reads: ReadSide): () => void {
  if (engine.onWriteCompleted === undefined) {
    return engine.onWritten!((written) => {
      queue.written(written);
      reads.wake();
    });
  }
  const offCompleted = engine.onWriteCompleted((completed) => queue.written(completed));
  const offWritten = engine.onWritten!(() => reads.wake());
  return () => {
    offCompleted();
    offWritten();
  };
}
