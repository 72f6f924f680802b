import { channel } from 'node:diagnostics_channel';
import type { LogEngine } from '../engine.js';

/**
 * The Wal's `node:diagnostics_channel` channels (the convention of undici and pg): a
 * subscriber sees what happened to every log of the process without holding the objects.
 * Publishing to a channel without subscribers costs one check. Messages are documented in
 * the package README ("Diagnostics channels").
 */
export const channels = {
  /** A log was opened: `{ dir, readOnly, backend, recovery }`. */
  open: channel('walnut:wal:open'),
  /** Opening cut a torn tail, dropped damaged data or removed leftovers: `{ dir, recovery }`. */
  recovery: channel('walnut:wal:recovery'),
  /** A failed write or fdatasync poisoned the log: `{ dir, error }`. */
  poison: channel('walnut:wal:poison'),
  /** A full disk rolled unwritten records back: `{ dir, fromLsn, toLsn, error }`. */
  rollback: channel('walnut:wal:rollback'),
  /**
   * A retention pass deleted segments, or a beforeDelete hook failed:
   * `{ dir, deleted, heldBy, cursorsPassed, hookFailed }` (RetentionReport).
   */
  retention: channel('walnut:wal:retention'),
};

/** Publishes that the log in `dir` opened, and what opening cut, dropped or removed, if anything. */
export function announceOpen(dir: string, readOnly: boolean, engine: LogEngine): void {
  const recovery = engine.recoveryReport;
  if (channels.open.hasSubscribers) {
    channels.open.publish({ dir, readOnly, backend: engine.io.describe(), recovery });
  }
  const changed =
    recovery.tornTail !== null || recovery.salvaged.length > 0 || recovery.removedFiles.length > 0;
  if (changed && channels.recovery.hasSubscribers) {
    channels.recovery.publish({ dir, recovery });
  }
}
