import type { KeyRing } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { type FollowState, followLog, makeDurable } from './follow.js';
import type { SegmentSet } from './segment-set.js';
import type { SyncRounds } from './sync-rounds.js';
import type { WritePipeline } from './write-pipeline.js';

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

  constructor(private readonly host: RefreshHost) {}

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

  private async catchUp(): Promise<bigint> {
    const { io, dir, segments, pipeline: p, rounds } = this.host;
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
