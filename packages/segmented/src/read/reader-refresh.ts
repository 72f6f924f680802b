import type { KeyRing, WalError } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readCut } from '../files/cut-after.js';
import type { SegmentSet } from '../files/segment-set.js';
import { truncatedError } from '../files/suffix-cuts.js';
import type { SyncRounds } from '../write/sync-rounds.js';
import type { WritePipeline } from '../write/write-pipeline.js';
import { type FollowState, followLog, makeDurable } from './follow.js';

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
}

/**
 * `refresh()` of a read-only opener (docs/decisions/0320): runs `followLog` on a copy of
 * the log's view, makes what it found durable, then moves the segment set, the floor,
 * `writtenLsn` and `durableLsn` to it. Concurrent calls share one refresh.
 */
export class ReaderRefresh {
  private refreshing: Promise<bigint> | null = null;
  /** The last frame found by a refresh (see follow.ts). */
  private lastFrame: FollowState['lastFrame'] = null;
  /** The suffix cuts seen so far (see `checkCut`). */
  private cuts: bigint;
  /** Once a cut removed records this reader found, every refresh fails with it. */
  private truncated: WalError | null = null;

  constructor(private readonly host: RefreshHost) {
    this.cuts = host.cutGeneration;
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

  /**
   * Whether the writer's suffix cuts leave this reader's view whole. A cut that removed a
   * record it found is WAL_TRUNCATED, now and at every later refresh: following on would
   * hand out the new history after the old. Several cuts since the last look: the lowest
   * is unknown, so any record found counts as removed. False while a cut is under way.
   */
  private async checkCut(found: bigint): Promise<boolean> {
    const cut = await readCut(this.host.io, this.host.dir);
    if (cut === null || cut.generation === this.cuts) return true;
    if (cut.state === 'pending') return false;
    const kept =
      cut.generation === this.cuts + 1n ? cut.afterLsn : this.host.segments.floorLsn - 1n;
    if (found > kept) {
      this.truncated = truncatedError(kept, null);
      throw this.truncated;
    }
    this.cuts = cut.generation;
    return true;
  }

  private async catchUp(): Promise<bigint> {
    if (this.truncated !== null) throw this.truncated;
    const { io, dir, segments, pipeline: p, rounds } = this.host;
    // The cut generation is read before and after the look (a seqlock): what a look found
    // while a cut ran may mix both histories, so it counts only when none ran.
    if (!(await this.checkCut(p.writtenLsn))) return p.writtenLsn;
    const generation = this.cuts;
    const state: FollowState = {
      io,
      dir,
      ring: this.host.ring(),
      segments: segments.list.slice(),
      floorLsn: segments.floorLsn,
      nextLsn: p.nextLsn,
      lastFrame: this.lastFrame,
    };
    await followLog(state);
    if (!(await this.checkCut(p.writtenLsn)) || this.cuts !== generation) return p.writtenLsn;
    const durable = rounds.durableLsn;
    await makeDurable(
      io,
      dir,
      state.segments.filter((seg) => seg.lastLsn > durable),
    );
    this.host.checkUsable();
    segments.list = state.segments;
    segments.floorLsn = state.floorLsn;
    this.lastFrame = state.lastFrame;
    const found = state.nextLsn - 1n;
    if (found > p.writtenLsn) {
      p.nextLsn = state.nextLsn;
      p.writtenLsn = found;
      this.host.written(found);
    }
    rounds.advanceDurable(found);
    return p.writtenLsn;
  }
}
