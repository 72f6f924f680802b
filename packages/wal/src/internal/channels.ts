import { channel } from 'node:diagnostics_channel';
import type { WalError } from '@walnut/codec';
import type { RecoveryReport } from '@walnut/segmented';
import type { LogEngine } from '../engine.js';
import type { RetentionReport } from '../retention/retention.js';

/** The backend a log runs on, as `stats().backend` and the open event both give it. */
export interface BackendInfo {
  name: string;
  reason: string;
  /** What was asked for: `'auto'`, a backend's name, or `'custom'` for a StorageIo of yours. */
  requested: string;
}

/** `walnut:wal:open`: a log was opened. */
export interface WalOpenMessage {
  dir: string;
  readOnly: boolean;
  backend: BackendInfo;
  recovery: RecoveryReport;
}

/** `walnut:wal:recovery`: opening cut a torn tail, dropped damaged data or removed leftovers. */
export interface WalRecoveryMessage {
  dir: string;
  recovery: RecoveryReport;
}

/** `walnut:wal:poison`: a failed write or fdatasync poisoned the log. */
export interface WalPoisonMessage {
  dir: string;
  error: WalError;
}

/** `walnut:wal:rollback`: a full disk rolled unwritten records back. */
export interface WalRollbackMessage {
  dir: string;
  fromLsn: bigint;
  toLsn: bigint;
  error: WalError;
}

/** `walnut:wal:retention`: a retention pass deleted segments, or a beforeDelete hook failed. */
export type WalRetentionMessage = { dir: string } & RetentionReport;

/**
 * The names of the Wal's `node:diagnostics_channel` channels (the convention of undici and
 * pg): a subscriber sees what happened to every log of the process without holding the
 * objects. Subscribe by these names (`subscribe(WAL_CHANNELS.poison, …)`); the message of
 * each is the interface named after it. Documented in the README ("Diagnostics channels").
 */
export const WAL_CHANNELS = {
  open: 'walnut:wal:open',
  recovery: 'walnut:wal:recovery',
  poison: 'walnut:wal:poison',
  rollback: 'walnut:wal:rollback',
  retention: 'walnut:wal:retention',
} as const;

/** Publishing to a channel without subscribers costs one check. */
export const channels = {
  open: channel(WAL_CHANNELS.open),
  recovery: channel(WAL_CHANNELS.recovery),
  poison: channel(WAL_CHANNELS.poison),
  rollback: channel(WAL_CHANNELS.rollback),
  retention: channel(WAL_CHANNELS.retention),
};

/** Publishes that the log in `dir` opened, and what opening cut, dropped or removed, if anything. */
export function announceOpen(
  dir: string,
  readOnly: boolean,
  engine: LogEngine,
  backend: BackendInfo,
): void {
  const recovery = engine.recoveryReport;
  if (channels.open.hasSubscribers) {
    const message: WalOpenMessage = { dir, readOnly, backend, recovery };
    channels.open.publish(message);
  }
  const changed =
    recovery.tornTail !== null ||
    recovery.salvaged.length > 0 ||
    recovery.removedFiles.length > 0 ||
    recovery.finishedCut !== null;
  if (changed && channels.recovery.hasSubscribers) {
    const message: WalRecoveryMessage = { dir, recovery };
    channels.recovery.publish(message);
  }
}
