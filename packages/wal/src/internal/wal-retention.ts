import { jsonReady, type WalError } from '@walnut/codec';
import type { CursorRegistry } from '../cursors/cursor-registry.js';
import type { LogEngine } from '../engine.js';
import { Retention } from '../retention/retention.js';
import type { RetentionOptions } from '../retention/retention-options.js';
import { channels } from './channels.js';

/**
 * Starts a writer's retention over `engine`: segments listed and deleted through it, ages
 * read from its record times, the positions of `cursors` (on disk, and those held here)
 * kept, each pass published on `walnut:wal:retention`; nothing deleted once `poisoned()`.
 */
export function startRetention(
  dir: string,
  engine: LogEngine,
  cursors: Pick<CursorRegistry, 'retentionHolds' | 'heldPositions'>,
  options: RetentionOptions,
  poisoned: () => WalError | undefined,
): Retention {
  const retention = new Retention(
    {
      dir,
      listSegments: () => engine.listSegments(),
      truncateBefore: (lsn) => {
        // The engine may not know: a full disk that took acknowledged records poisons only the Wal.
        const refusal = poisoned();
        return refusal ? Promise.reject(refusal) : engine.truncateBefore(lsn);
      },
      olderThan: async (ageMs) => {
        // An engine without record times knows of no record's age: nothing goes by age.
        if (engine.segmentsBefore === undefined || engine.logTime === undefined)
          return engine.floorLsn;
        return engine.segmentsBefore(Math.max(0, engine.logTime() - ageMs));
      },
      cursorPositions: () => cursors.retentionHolds(),
      heldCursorPositions: () => cursors.heldPositions(),
      publish: (report) => {
        if (channels.retention.hasSubscribers)
          channels.retention.publish(jsonReady({ dir, ...report }));
      },
    },
    options,
  );
  retention.start(engine.activeSegmentFirstLsn);
  return retention;
}
