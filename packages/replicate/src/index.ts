// The errors every call rejects with, as @walnut/wal exports them (the same classes).
export { isWalError, WalError, WalErrorCode } from '@walnut/wal';
export type { Lease } from './cluster/lease.js';
export { Follower, type FollowerStats, type PromoteOptions } from './follower/follower.js';
export { type RejoinCut, type RejoinResult, rejoin } from './follower/rejoin.js';
export type {
  ClusterOptions,
  FollowerOptions,
  LagPolicy,
  PrimaryOptions,
  ReplicationMode,
  WaitOptions,
} from './options.js';
export type { FencedReport } from './primary/fencing.js';
export type { Guarantee } from './primary/guarantee.js';
export type { ReplicatedWalStats } from './primary/primary-stats.js';
export { ReplicatedWal } from './primary/replicated-wal.js';
