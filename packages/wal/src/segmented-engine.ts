import { SegmentedWal } from '@walnut/segmented';
import type { LogEngine } from './engine.js';
import type { EngineConfig, EngineFactory } from './wal-builder.js';

/** The real engine: a SegmentedWal over the StorageIo the builder resolved. */
export const segmentedEngineFactory: EngineFactory = {
  async open(config: EngineConfig): Promise<LogEngine> {
    return SegmentedWal.open(config);
  },
};
