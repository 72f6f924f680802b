import { type KeyRing, lowestCutSince, type SuffixCut, sameCut } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readCut } from '../cut/cut-after.js';
import { settledCut } from '../cut/cut-wait.js';
import type { SuffixCuts } from '../cut/suffix-cuts.js';
import type { SegmentSet } from '../write/segment-set.js';
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
  /** A cut was recorded: where records were found in the old history says nothing of the new. */
  historyChanged(): void;
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
/** A look spoilt by a cut (or a truncation) that ran while it looked: it is taken again. */
const AGAIN = Symbol('again');
/** Looks a refresh takes at most; each one after the first follows a cut or a truncation. */
const LOOKS = 100;

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

  /**
   * After a read between looks: if a cut ran since the view was founded (the CUT file reads
   * otherwise), what the read found may mix both histories (a segment replaced by its kept
   * prefix and grown in the new history reads on past the cut), so the cut is found first,
   * and the reader judges what it read by it. One read of the CUT file when nothing changed.
   */
  async cutSinceView(): Promise<void> {
    const cut = await readCut(this.host.io, this.host.dir);
    if (!this.isNew(cut) && cut?.state !== 'pending') return;
    await this.refresh();
  }

  /** The refresh under way, if any, as a promise that never rejects: close() waits for it. */
  settled(): Promise<unknown> | undefined {
    return this.refreshing?.catch(() => {});
  }

  // The CUT file is read before and after each look (a seqlock): what a look found while a
  // cut ran may mix both histories, and what failed while one ran failed because of it (a cut
  // deletes and replaces files under the look). Such a look counts for nothing and is taken
  // again, once the cut is done: every look of a reader beside a cutting writer ends in the
  // view of one history, and a failure is reported only when no cut explains it.
  private async catchUp(): Promise<bigint> {
    for (let looks = 1; ; looks++) {
      const found = await this.look();
      if (found !== AGAIN) return found;
      if (looks >= LOOKS) return this.host.pipeline.writtenLsn;
    }
  }

  private async look(): Promise<bigint | typeof AGAIN> {
    const { io, dir, segments, pipeline: p, rounds } = this.host;
    const cut = await settledCut(io, dir, true);
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
    let synced: boolean;
    try {
      followed = await followLog(state);
      if (followed === 'overtaken') return this.foundAgain(cut);
      const durable = rounds.durableLsn;
      synced = await makeDurable(
        io,
        dir,
        state.segments.filter((seg) => seg.lastLsn > durable),
      );
    } catch (error) {
      if (await this.cutRan(cut)) return AGAIN;
      throw error;
    }
    if (await this.cutRan(cut)) return AGAIN;
    if (!synced) return p.writtenLsn;
    this.host.checkUsable();
    this.lastFrame = state.lastFrame;
    this.install(state);
    return p.writtenLsn;
  }

  private isNew(cut: SuffixCut | null): boolean {
    return (cut?.generation ?? 0n) !== this.generation;
  }

  /** Whether a cut started or ended since the CUT file read `cut`. */
  private async cutRan(cut: SuffixCut | null): Promise<boolean> {
    return !sameCut(cut, await readCut(this.host.io, this.host.dir));
  }

  /**
   * Founds the view again on the log as it is now (`cut` the CUT file read before): after a
   * cut, or once a truncation deleted what the view held. The cuts since the view's generation
   * are recorded as keeping the records up to the lowest of them, which the CUT file tells
   * while it remembers them all (RECENT_CUTS); past that, or in a file of the first release,
   * only the records below the floor are known to be kept, and the cut is recorded as a bound.
   */
  private async foundAgain(cut: SuffixCut | null): Promise<bigint | typeof AGAIN> {
    const { io, dir, segments, pipeline: p, rounds } = this.host;
    const generation = cut?.generation ?? 0n;
    let kept: bigint | null = null;
    let known = true;
    if (generation !== this.generation) {
      kept = lowestCutSince(cut!, this.generation);
      if (kept === null) {
        kept = segments.floorLsn - 1n;
        known = false;
      }
    }
    let view: FoundView | null;
    let synced: boolean;
    try {
      view = await foundAgain(io, dir, this.host.ring());
      if (view === null) return AGAIN;
      // What this reader made durable before stays so up to the cut: both histories share it.
      let durable = rounds.durableLsn;
      if (kept !== null && kept < durable) durable = kept;
      synced = await makeDurable(
        io,
        dir,
        view.segments.filter((seg) => seg.lastLsn > durable),
      );
    } catch (error) {
      if (await this.cutRan(cut)) return AGAIN;
      throw error;
    }
    if ((await this.cutRan(cut)) || !synced) return AGAIN;
    this.host.checkUsable();
    // One record per generation: a cursor counts the CUT generations by the cuts it saw.
    if (kept !== null) {
      for (let g = this.generation; g < generation; g++) this.host.cuts.record(kept, known);
      this.host.historyChanged();
    }
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
