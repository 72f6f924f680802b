import { badArgument, checkOptionKeys } from '@walnut/codec';
import type { SegmentInfo } from '@walnut/segmented';

/** `Wal.open(dir).retention({...})`: which sealed segments a writer deletes, and when. */
export interface RetentionOptions {
  /** Delete the oldest sealed segments while all segments together take more bytes. */
  readonly maxBytes?: number;
  /** Delete the oldest sealed segments while there are more segments. */
  readonly maxSegments?: number;
  /**
   * Delete a sealed segment once every record in it is older than this, by the log's clock
   * (`WalOptions.clock`): its records' append times, never a file's mtime.
   */
  readonly maxAgeMs?: number;
  /**
   * A durable cursor holds back retention (nothing it has yet to read is deleted) while the
   * bytes of the segments it has yet to read are at most this; past it, retention goes on
   * and the cursor's next read or commit fails with WAL_CURSOR_BEHIND. Default: no cap.
   */
  readonly maxCursorLagBytes?: number;
  /**
   * Awaited before each segment is deleted (to archive it): a rejection keeps that segment
   * and every later one, and is reported in `stats().retention` and on the channel.
   */
  readonly beforeDelete?: (segment: SegmentInfo) => unknown;
  /** How often a pass also runs on a timer (besides each time a segment is sealed). Default 60 000 ms. */
  readonly intervalMs?: number;
}

const KEYS = [
  'maxBytes',
  'maxSegments',
  'maxAgeMs',
  'maxCursorLagBytes',
  'beforeDelete',
  'intervalMs',
];

/** The options, checked under their own names (WAL_BAD_ARGUMENT). */
export function checkRetention(value: unknown, name: string): RetentionOptions {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    badArgument(
      name,
      'an object ({ maxBytes, maxSegments, maxAgeMs, maxCursorLagBytes, beforeDelete })',
      value,
    );
  checkOptionKeys(value, KEYS, 'retention()');
  const options = value as Record<string, unknown>;
  for (const key of ['maxBytes', 'maxSegments', 'maxAgeMs', 'maxCursorLagBytes'] as const) {
    const limit = options[key];
    if (
      limit !== undefined &&
      !(typeof limit === 'number' && Number.isSafeInteger(limit) && limit >= 0)
    )
      badArgument(`${name}.${key}`, 'an integer ≥ 0', limit);
  }
  const interval = options.intervalMs;
  if (
    interval !== undefined &&
    !(
      typeof interval === 'number' &&
      Number.isSafeInteger(interval) &&
      interval >= 1 &&
      interval <= 2 ** 31 - 1
    )
  )
    badArgument(`${name}.intervalMs`, `an integer from 1 to ${2 ** 31 - 1} (ms)`, interval);
  if (options.beforeDelete !== undefined && typeof options.beforeDelete !== 'function')
    badArgument(`${name}.beforeDelete`, 'an async function (segment) => …', options.beforeDelete);
  if (
    options.maxBytes === undefined &&
    options.maxSegments === undefined &&
    options.maxAgeMs === undefined
  )
    badArgument(name, 'at least one limit: maxBytes, maxSegments or maxAgeMs', value);
  return { ...(options as RetentionOptions) };
}
