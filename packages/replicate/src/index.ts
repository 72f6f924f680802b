// The errors every call rejects with, as @walnut/wal exports them (the same classes).
export { isWalError, WalError, WalErrorCode } from '@walnut/wal';
export type { FencedReport } from './fencing.js';
export { Follower, type FollowerStats } from './follower.js';
export type { Guarantee } from './guarantee.js';
export type { Lease } from './lease.js';
export type {
  ClusterOptions,
  FollowerOptions,
  LagPolicy,
  PrimaryOptions,
  ReplicationMode,
  WaitOptions,
} from './options.js';
export type { ReplicatedWalStats } from './primary-stats.js';
export { type RejoinCut, type RejoinResult, rejoin } from './rejoin.js';
export { ReplicatedWal } from './replicated-wal.js';
