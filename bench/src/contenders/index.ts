/** Every contender the bench knows, in the order they are run and listed. */
import type { AnyContenderPlugin } from '../contender.js';
import { betterSqlite3 } from './better-sqlite3.js';
import { cBound, cBoundDirect } from './c-bound.js';
import { classicLevel } from './classic-level.js';
import { dsyncRounds } from './dsync-rounds.js';
import { lmdb } from './lmdb.js';
import { noLog } from './no-log.js';
import { nodeFsFloor } from './node-fs-floor.js';
import { ringRounds } from './ring-rounds.js';
import { walnutMmapReader } from './walnut-mmap-reader.js';
import { walnutSegmented } from './walnut-segmented.js';
import {
  walnutWalIoUring,
  walnutWalIoUringAppend,
  walnutWalIoUringDirect,
  walnutWalIoUringIterator,
  walnutWalIoUringQueued,
  walnutWalSyncFs,
} from './walnut-wal.js';

export const FLOOR_ID = nodeFsFloor.id;

export const CONTENDERS: readonly AnyContenderPlugin[] = [
  nodeFsFloor,
  noLog,
  dsyncRounds,
  cBound,
  cBoundDirect,
  ringRounds,
  walnutWalIoUring,
  walnutWalIoUringAppend,
  walnutWalIoUringQueued,
  walnutWalIoUringIterator,
  walnutWalIoUringDirect,
  walnutWalSyncFs,
  walnutSegmented,
  walnutMmapReader,
  betterSqlite3,
  classicLevel,
  lmdb,
];

export function contenderById(id: string): AnyContenderPlugin {
  const plugin = CONTENDERS.find((candidate) => candidate.id === id);
  if (plugin === undefined) throw new Error(`unknown contender ${id}`);
  return plugin;
}
