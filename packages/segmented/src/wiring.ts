// Wiring, and nothing else: builds the parts of an opened log and connects each one's host
// callbacks to the others. What a part does lives in its own file; only SegmentedWal imports
// this one, and no part does (the parts import each other's types, never the wiring).
import { FILE_HEADER_SIZE, type KeyRing, type WalRecord } from '@walnut/codec';
import { alignedBuffer, type StorageIo } from '@walnut/storage-io';
import type { SuffixCuts } from './cut/suffix-cuts.js';
import type { CutHost } from './cut/truncate-after.js';
import type { Segment } from './files/segment.js';
import type { OpenedLog } from './open.js';
import { TimeLookup } from './read/lsn-at-time.js';
import { ReaderRefresh } from './read/reader-refresh.js';
import { ReplayPager } from './read/replay-pager.js';
import type { RecoveryResult } from './recovery/recovery-report.js';
import { settleParts } from './settle.js';
import { Failures } from './write/failures.js';
import { SegmentSet } from './write/segment-set.js';
import { type Counters, newCounters } from './write/stats.js';
import { SyncRounds } from './write/sync-rounds.js';
import type { TruncationQueue } from './write/truncation-queue.js';
import { WritePipeline } from './write/write-pipeline.js';
import { WritebackAhead } from './write/writeback.js';
import { ZeroFiller } from './write/zero-fill.js';

/** The parts SegmentedWal is the front of (docs/decisions/0330-segmented-wal-seams.md). */
export interface Parts {
  counters: Counters;
  zeroFill: ZeroFiller | null;
  writeback: WritebackAhead | null;
  pipeline: WritePipeline;
  segments: SegmentSet;
  failures: Failures;
  rounds: SyncRounds;
  pager: ReplayPager;
}

/** What the parts ask of the front. */
export interface FrontHooks {
  closed(): boolean;
  ring(): KeyRing | undefined;
  /** writtenLsn advanced (for onWritten listeners). */
  written(lsn: bigint): void;
  /** Writes up to `lsn` completed, their segment named or not (for onWriteCompleted listeners). */
  completed(lsn: bigint): void;
  /** durableLsn advanced (for onDurable listeners). */
  durable(lsn: bigint): void;
}

/**
 * Builds the parts of an opened log and wires each one's host callbacks to the others.
 * The callbacks refer to parts built after them: none runs before this returns.
 */
export function buildParts(init: OpenedLog, front: FrontHooks): Parts {
  const { cfg, io } = init;
  const direct = init.directIo.state === 'on';
  const counters = newCounters();
  let pipeline: WritePipeline;
  let segments: SegmentSet;
  let rounds: SyncRounds;
  const zeroFill =
    cfg.zeroFillAhead > 0 && !cfg.readOnly
      ? new ZeroFiller({
          io,
          ahead: cfg.zeroFillAhead,
          segmentTargetSize: cfg.segmentTargetSize,
          onIdle: (seg) => pipeline.afterZeroFill(seg),
          onFatal: (err) => failures.poisonWith(err),
          ...(direct ? { allocate: alignedBuffer } : {}),
        })
      : null;
  // Direct writes leave no dirty pages behind for a writeback to start on.
  const writeback =
    cfg.writebackAhead > 0 && !cfg.readOnly && !direct
      ? new WritebackAhead({
          io,
          every: cfg.writebackAhead,
          onIdle: () => segments.closeIdleFds(),
        })
      : null;
  const shared = { io, counters, zeroFill, writeback };
  const failures: Failures = new Failures(
    {
      poisoned: (err) => {
        pipeline.failQueued();
        rounds.rejectAll(err);
      },
      stopWriting: () => pipeline.discardUnsent(),
      settled: async () => {
        await Promise.all(pipeline.writes.map((w) => w.settled));
        await segments.creationsDone();
        await zeroFill?.idle();
      },
      firstUnwritten: () => pipeline.writes.find((w) => w.status !== 'done'),
      lastAssigned: () => pipeline.nextLsn - 1n,
      cut: (point) => pipeline.cutBack(point, (seg) => segments.dropAfter(seg)),
      rejectFrom: (from, err) => rounds.rejectFrom(from, err),
      rolledBack: () => {
        segments.closeIdleFds();
        rounds.pump();
      },
    },
    counters,
  );
  const noSpace = (seg: Segment, offset: number, lostFrom: bigint, err: unknown): void =>
    failures.startRollback(seg, offset, lostFrom, err);
  const active = init.segments[init.segments.length - 1];
  pipeline = new WritePipeline({
    ...shared,
    host: {
      active: () => segments.active(),
      startCreation: (seg) => segments.startCreation(seg),
      poisoned: () => failures.poison !== null,
      rollingBack: () => failures.rollback !== null,
      closed: front.closed,
      poison: (err) => failures.poisonWith(err),
      noSpace,
      written: (lsn) => {
        rounds.written(lsn);
        front.written(lsn);
      },
      completed: (lsn) => front.completed(lsn),
    },
    writeBufferSize: cfg.writeBufferSize,
    direct,
    readOnly: cfg.readOnly,
    nextLsn: init.nextLsn,
    offset: active?.assignedEnd ?? FILE_HEADER_SIZE,
  });
  segments = new SegmentSet({
    ...shared,
    host: {
      writesOf: (seg) => pipeline.writes.filter((w) => w.seg === seg),
      submitQueued: (seg) => pipeline.submitQueued(seg),
      poisoned: () => failures.poison,
      poison: (err) => {
        failures.poisonWith(err);
        return failures.poison!;
      },
      noSpace,
      creationError: () => failures.rollbackError,
      closed: front.closed,
      syncing: () => rounds.active,
      sealed: (lastLsn) => rounds.advanceDurable(lastLsn),
      named: () => pipeline.advanceWritten(),
    },
    dir: cfg.dir,
    preallocateTo: cfg.preallocate ? cfg.segmentTargetSize : null,
    direct,
    segments: init.segments,
    floorLsn: init.floorLsn,
    clock: init.clock,
    compression: cfg.compression,
  });
  rounds = new SyncRounds({
    ...shared,
    pipeline: pipeline,
    segments: segments,
    failures,
    // A writer made what it recovered durable. A reader only knows that every segment but
    // the last is (the writer syncs one before naming the next); refresh() syncs the rest.
    durableLsn:
      cfg.readOnly && init.segments.length > 0
        ? (init.segments.at(-2)?.lastLsn ?? init.segments[0]!.firstLsn - 1n)
        : init.nextLsn - 1n,
    onDurable: front.durable,
  });
  const pager = new ReplayPager({
    io,
    writeBufferSize: cfg.writeBufferSize,
    ring: front.ring,
    segments: () => segments.list.slice(),
    readableLsn: () => pipeline.writtenLsn,
  });
  return { counters, zeroFill, writeback, pipeline, segments, failures, rounds, pager };
}

/**
 * After recovery: continue the last segment when that is allowed, else plan a new one.
 * Appending into an encrypted segment this process did not create could repeat nonces
 * under its key, and a log with a key ring must not grow plaintext segments.
 */
export async function prepareActiveSegment(
  parts: Pick<Parts, 'segments' | 'pipeline' | 'zeroFill'>,
  io: StorageIo,
  ring: KeyRing | undefined,
): Promise<void> {
  const { segments, pipeline: p } = parts;
  const last = segments.list[segments.list.length - 1];
  if (last === undefined) {
    const first = planActive(parts, ring);
    segments.startCreation(first);
    await first.creating;
    return;
  }
  const fd = await io.open(last.path, { direct: p.direct });
  // Recovery may have read bytes that sit only in the page cache (a killed process
  // never synced them); make them durable before anything is built on top of them.
  await io.datasync(fd).catch(async (err) => {
    await io.close(fd);
    throw err;
  });
  // After salvage retired the LSNs of an unreadable last segment, the next record starts a
  // segment of its own: a gap lies between segments, never inside one. A version 1 segment
  // takes no frames with times, so the first append of a newer writer starts a version 2
  // one (decision 0350). A writer that compresses does not append to a segment whose header
  // lacks the flag: a reader older than compression must refuse such a file by its header,
  // not call its frames corrupt (decision 0118).
  const continuable =
    last.header.cipher === 'none' &&
    ring === undefined &&
    last.lastLsn + 1n === p.nextLsn &&
    last.header.version >= 2 &&
    (segments.compression === undefined || last.header.compressed);
  if (continuable) {
    last.fd = fd;
    last.status = 'ready';
    p.resetTo(last.assignedEnd, p.nextLsn, await p.bytesBefore(last));
    parts.zeroFill?.maybeStart(last);
    return;
  }
  await io.close(fd);
  planActive(parts, ring);
}

/** Plans the next active segment at nextLsn (replacing the current one if it is empty). */
export function planActive(
  parts: Pick<Parts, 'segments' | 'pipeline'>,
  ring: KeyRing | undefined,
): Segment {
  const p = parts.pipeline;
  const seg = parts.segments.plan(p.nextLsn, ring);
  p.resetTo(FILE_HEADER_SIZE, p.nextLsn, seg.headerBytes);
  return seg;
}

/** What the front's readers (time lookups, a read-only opener's refresh) ask of it. */
export interface ReaderHooks {
  /** The parts now: truncateAfter builds them anew. */
  parts(): Parts;
  ring(): KeyRing | undefined;
  cuts: SuffixCuts;
  replayFrom(lsn: bigint): AsyncIterable<WalRecord>;
  checkUsable(): void;
  /** writtenLsn advanced by a refresh (for onWritten listeners). */
  written(lsn: bigint): void;
}

/**
 * Builds the lookups by time and, for a read-only opener, its refresh (the parts it moves
 * forward are built once: a read-only log is never cut and reopened), and lets the cuts
 * ask the refresh whether one came since its view.
 */
export function buildReaders(
  init: OpenedLog,
  front: ReaderHooks,
): { timeLookup: TimeLookup; refresh: ReaderRefresh | null } {
  const { cfg, io } = init;
  const { cuts, ring } = front;
  const timeLookup = new TimeLookup({
    io,
    ring,
    segments: () => front.parts().segments.list.slice(),
    readableLsn: () => front.parts().pipeline.writtenLsn,
    floorLsn: () => front.parts().segments.floorLsn,
    replayFrom: (lsn) => front.replayFrom(lsn),
    walk: (lsn, resume, chunkSize) => front.parts().pager.walk(lsn, resume, chunkSize),
    generation: () => cuts.generation,
    segmentTargetSize: cfg.segmentTargetSize,
  });
  if (!cfg.readOnly) return { timeLookup, refresh: null };
  const parts = front.parts();
  const refresh = new ReaderRefresh({
    io,
    dir: cfg.dir,
    segments: parts.segments,
    pipeline: parts.pipeline,
    rounds: parts.rounds,
    ring,
    checkUsable: () => front.checkUsable(),
    written: (lsn) => front.written(lsn),
    cutGeneration: init.cut?.generation ?? 0n,
    cuts,
    historyChanged: () => {
      parts.pager.forget();
      // Another process's cut: an offset past it may hold a frame of the new history.
      for (const seg of parts.segments.list) seg.frames?.clear();
    },
  });
  cuts.afterRead = () => refresh.cutSinceView();
  return { timeLookup, refresh };
}

/** What a cut asks of the front, beside the parts. */
export interface CutHooks {
  parts(): Parts;
  ring(): KeyRing | undefined;
  cuts: SuffixCuts;
  truncations(): TruncationQueue;
  sync(): Promise<bigint>;
  /** Builds the parts anew from what recovery found after the cut, and writes on. */
  reopen(recovered: RecoveryResult): Promise<void>;
}

/** The host `cutAfter` runs a truncateAfter against: the parts the front has at each step. */
export function buildCutHost(init: OpenedLog, front: CutHooks): CutHost {
  const { cfg, io } = init;
  return {
    io,
    dir: cfg.dir,
    mode: cfg.recovery,
    cuts: front.cuts,
    ring: () => front.ring(),
    segments: () => front.parts().segments.list,
    sync: () => front.sync(),
    quiesce: async () => {
      await settleParts(front.parts(), front.truncations());
      await front.parts().segments.closeFiles();
    },
    reopen: (recovered) => front.reopen(recovered),
    poison: (err) => {
      const { failures } = front.parts();
      failures.poisonWith(err);
      return failures.poison ?? err;
    },
  };
}
