import type { KeyRing, SuffixCut } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readCut } from '../files/cut-after.js';
import type { SegmentSet } from '../files/segment-set.js';
import type { SuffixCuts } from '../files/suffix-cuts.js';
import type { SyncRounds } from '../write/sync-rounds.js';
import type { WritePipeline } from '../write/write-pipeline.js';
import { type FollowState, followLog, makeDurable } from './follow.js';
import { type FoundView, foundAgain } from './found-again.js';

/** What a read-only opener's refresh reads and moves forward. */
export interface RefreshHost {
  readonly io: StorageIo;
  readonly dir: string;
  readonly segments: SegmentSet;
  readonly pipeline: WritePipeline;
  readonly rounds: SyncRounds;
  /** Read at each refresh: a reader may be given its ring after open. */
  ring(): KeyRing | undefined;
  /** Throws when the log was closed or poisoned while the refresh ran. */
  checkUsable(): void;
  /** writtenLsn advanced to `lsn` (for onWritten listeners). */
  written(lsn: bigint): void;
  /** The generation of the log's last suffix cut when it was opened (0n: none). */
  readonly cutGeneration: bigint;
  /**
   * The opener's suffix cuts: a refresh that finds a cut of the writer's records it here,
   * and every reader of the opener judges itself by it as a writer's readers do.
   */
  readonly cuts: SuffixCuts;
}

/**
 * `refresh()` of a read-only opener (docs/decisions/0320): runs `followLog` on a copy of
 * the log's view, makes what it found durable, then moves the segment set, the floor,
 * `writtenLsn` and `durableLsn` to it. Concurrent calls share one refresh.
 *
 * A view is founded on one history: the suffix cut generation the `CUT` file had when it was
 * founded. A look that finds another generation founds the view again on the log as it is
 * now and records the cut in the opener's `SuffixCuts`, in the same step as it installs the
 * new view: each reader, not the opener, then judges whether it handed out a record the cut
 * removed (docs/decisions/0340, addendum).
 */
export class ReaderRefresh {
  private refreshing: Promise<bigint> | null = null;
  /** The last frame found by a refresh (see follow.ts). */
  private lastFrame: FollowState['lastFrame'] = null;
  /** The cut generation the view is founded on. */
  private generation: bigint;

  constructor(private readonly host: RefreshHost) {
    this.generation = host.cutGeneration;
  }

  /** Resolves with `writtenLsn` once the view is up to date. */
  refresh(): Promise<bigint> {
    this.refreshing ??= this.catchUp().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  /** The refresh under way, if any, as a promise that never rejects: close() waits for it. */
  settled(): Promise<unknown> | undefined {
    return this.refreshing?.catch(() => {});
  }

  // The cut generation is read before and after each look (a seqlock): what a look found
  // while a cut ran may mix both histories, so it counts only when none ran. A look that
  // counts for nothing leaves the view as it was; the next one (a tail's next poll) looks again.
  private async catchUp(): Promise<bigint> {
    const { io, dir, segments, pipeline: p, rounds } = this.host;
    const cut = await readCut(io, dir);
    if (cut?.state === 'pending') return p.writtenLsn;
    if (this.isNew(cut)) return this.foundAgain(cut!);
    const state: FollowState = {
      io,
      dir,
      ring: this.host.ring(),
      // Copies: a replay under way holds the segments it started with, and judges where each
      // ends by them; one that grew under it would count as cut short.
      segments: segments.list.map((seg) => ({ ...seg })),
      floorLsn: segments.floorLsn,
      nextLsn: p.nextLsn,
      lastFrame: this.lastFrame,
    };
    let followed: 'followed' | 'overtaken';
    try {
      followed = await followLog(state);
    } catch (error) {
      // A cut deletes and replaces files under the look: that is no damage.
      const now = await readCut(io, dir);
      if (!this.isNew(now)) throw error;
      return now!.state === 'pending' ? p.writtenLsn : this.foundAgain(now!);
    }
    if (followed === 'overtaken') return this.foundAgain(cut);
    const durable = rounds.durableLsn;
    const synced = await makeDurable(
      io,
      dir,
      state.segments.filter((seg) => seg.lastLsn > durable),
    );
    const after = await readCut(io, dir);
    if (this.isNew(after))
      return after!.state === 'pending' ? p.writtenLsn : this.foundAgain(after!);
    if (!synced) return p.writtenLsn;
    this.host.checkUsable();
    this.lastFrame = state.lastFrame;
    this.install(state);
    return p.writtenLsn;
  }

  private isNew(cut: SuffixCut | null): boolean {
    return (cut?.generation ?? 0n) !== this.generation;
  }

  /**
   * Founds the view again on the log as it is now (`cut` the CUT file read before): after a
   * cut, or once a truncation deleted what the view held. A cut is recorded as keeping the
   * records up to its `afterLsn`; after two or more cuts since the last look the lowest is
   * unknown, and the records kept are only those below the floor, which no cut goes under.
   */
  private async foundAgain(cut: SuffixCut | null): Promise<bigint> {
    const { io, dir, segments, pipeline: p, rounds } = this.host;
    const generation = cut?.generation ?? 0n;
    let kept: bigint | null = null;
    if (generation !== this.generation) {
      kept = generation === this.generation + 1n ? cut!.afterLsn : segments.floorLsn - 1n;
    }
    const view = await foundAgain(io, dir, this.host.ring());
    if (view === null) return p.writtenLsn;
    // What this reader made durable before stays so up to the cut: both histories share it.
    let durable = rounds.durableLsn;
    if (kept !== null && kept < durable) durable = kept;
    const synced = await makeDurable(
      io,
      dir,
      view.segments.filter((seg) => seg.lastLsn > durable),
    );
    const after = await readCut(io, dir);
    if ((after?.generation ?? 0n) !== generation || after?.state === 'pending' || !synced) {
      return p.writtenLsn;
    }
    this.host.checkUsable();
    // One record per generation: a cursor counts the CUT generations by the cuts it saw.
    if (kept !== null)
      for (let g = this.generation; g < generation; g++) this.host.cuts.record(kept);
    this.generation = generation;
    this.lastFrame = null;
    this.install(view);
    return p.writtenLsn;
  }

  /** Moves the log's view to `view`, down as well as up (a cut lowers it). */
  private install(view: FoundView): void {
    const { segments, pipeline: p, rounds } = this.host;
    segments.list = view.segments;
    segments.floorLsn = view.floorLsn;
    const found = view.nextLsn - 1n;
    const grew = found > p.writtenLsn;
    p.nextLsn = view.nextLsn;
    p.writtenLsn = found;
    if (grew) this.host.written(found);
    if (found < rounds.durableLsn) rounds.durableLsn = found;
    else rounds.advanceDurable(found);
  }
}
