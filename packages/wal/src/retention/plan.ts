/** What a retention pass knows of one segment (SegmentInfo has these fields). */
export interface PlanSegment {
  readonly firstLsn: bigint;
  readonly lastLsn: bigint | null;
  readonly sizeBytes: number;
  readonly sealed: boolean;
}

/** The limits a pass applies; an absent limit never deletes anything. */
export interface RetentionLimits {
  readonly maxBytes?: number;
  readonly maxSegments?: number;
  /** A cursor holds segments back while the bytes it has yet to read are at most this. Default: no cap. */
  readonly maxCursorLagBytes?: number;
  /**
   * With `maxAgeMs`: every record below this LSN is older than maxAgeMs (the log's
   * `segmentsBefore(now − maxAgeMs)`), so a sealed segment wholly below it has aged out.
   */
  readonly agedBelow?: bigint;
}

export type DeleteReason = 'maxBytes' | 'maxSegments' | 'maxAgeMs';

export interface RetentionPlan {
  /** How many of the oldest segments to delete, each with the limit it exceeds. */
  readonly reasons: readonly DeleteReason[];
  /** The cursor that keeps the next segment, when one does. */
  readonly heldBy: string | undefined;
  /** Cursors the deletion passes (their next record goes): each lagged past the cap. */
  readonly passes: readonly string[];
}

/**
 * Which of the oldest sealed segments a pass deletes: while the log is over `maxBytes` or
 * `maxSegments`, or the oldest sealed segment holds only records below `agedBelow`
 * (older than `maxAgeMs`), the oldest sealed segment goes — unless a record in it is above the
 * position of a cursor whose lag (bytes of the segments holding records after its
 * position) is within `maxCursorLagBytes`. The active segment is never deleted. Pure, so
 * that its rules can be tested against every shape of log.
 */
export function planRetention(
  segments: readonly PlanSegment[],
  cursors: ReadonlyMap<string, bigint>,
  limits: RetentionLimits,
): RetentionPlan {
  const cap = limits.maxCursorLagBytes ?? Number.POSITIVE_INFINITY;
  const holders: { name: string; lsn: bigint }[] = [];
  const lagging = new Map<string, bigint>();
  for (const [name, lsn] of cursors) {
    let lag = 0;
    for (const segment of segments) if (lastOf(segment) > lsn) lag += segment.sizeBytes;
    if (lag <= cap) holders.push({ name, lsn });
    else lagging.set(name, lsn);
  }
  let bytes = 0;
  for (const segment of segments) bytes += segment.sizeBytes;
  let count = segments.length;
  const reasons: DeleteReason[] = [];
  let heldBy: string | undefined;
  for (let i = 0; i < segments.length - 1; i++) {
    const segment = segments[i]!;
    if (!segment.sealed) break;
    const last = lastOf(segment);
    const reason = over(limits.maxBytes, bytes)
      ? 'maxBytes'
      : over(limits.maxSegments, count)
        ? 'maxSegments'
        : limits.agedBelow !== undefined && last < limits.agedBelow
          ? 'maxAgeMs'
          : undefined;
    if (reason === undefined) break;
    heldBy = holders.find((holder) => last > holder.lsn)?.name;
    if (heldBy !== undefined) break;
    reasons.push(reason);
    bytes -= segment.sizeBytes;
    count--;
  }
  const firstKept = segments[reasons.length]?.firstLsn ?? 0n;
  const passes = [...lagging].filter(([, lsn]) => lsn + 1n < firstKept).map(([name]) => name);
  return { reasons, heldBy, passes };
}

function lastOf(segment: PlanSegment): bigint {
  return segment.lastLsn ?? segment.firstLsn - 1n;
}

function over(limit: number | undefined, value: number): boolean {
  return limit !== undefined && value > limit;
}
