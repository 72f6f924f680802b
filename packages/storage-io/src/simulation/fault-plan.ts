import { Errno } from '../contract/errors.js';
import type { IoOp } from '../contract/types.js';

/** Operations a fault can target: every submission kind, plus directory fsync. */
export type FaultableOp = IoOp | 'syncDirectory';

/**
 * A scripted fault. `nth` counts from the moment the fault is injected: `nth: 1` is the
 * next matching operation. Each fault fires once. For `op: 'write'`, `write` and
 * `writev` submissions both count.
 */
export type Fault =
  /** The nth matching operation fails with -EIO (or rejects with WAL_IO for syncDirectory). */
  | { readonly kind: 'eio'; readonly op: FaultableOp; readonly nth: number }
  /**
   * Once `afterBytes` more bytes were written, writes fail with -ENOSPC (the write that
   * crosses the limit is cut short at it). Stays until `clearFaults()` ("space freed").
   */
  | { readonly kind: 'enospc'; readonly afterBytes: number }
  /** The nth write/writev transfers only `bytes` bytes (a short write). */
  | { readonly kind: 'short-write'; readonly nth: number; readonly bytes: number };

export type OpCounts = Record<FaultableOp, number>;

export function zeroCounts(): OpCounts {
  return {
    open: 0,
    write: 0,
    writev: 0,
    read: 0,
    fdatasync: 0,
    fsync: 0,
    fallocate: 0,
    writeback: 0,
    syncDirectory: 0,
  };
}

interface ArmedCountFault {
  readonly kind: 'eio' | 'short-write';
  readonly op: FaultableOp;
  /** Fires when the matching counter reaches this value. */
  readonly at: number;
  readonly bytes: number;
}

/** Decides, operation by operation, which injected fault (if any) applies. */
export class FaultPlan {
  readonly counts: OpCounts = zeroCounts();
  private writes = 0;
  private armed: ArmedCountFault[] = [];
  /** Bytes that may still be written before ENOSPC, or null when unlimited. */
  private spaceLeft: number | null = null;

  inject(fault: Fault): void {
    if (fault.kind === 'enospc') {
      this.spaceLeft = Math.max(0, fault.afterBytes);
      return;
    }
    const op = fault.kind === 'short-write' ? 'write' : fault.op;
    const base = op === 'write' ? this.writes : this.counts[op];
    const bytes = fault.kind === 'short-write' ? fault.bytes : 0;
    this.armed.push({ kind: fault.kind, op, at: base + Math.max(1, fault.nth), bytes });
  }

  clear(): void {
    this.armed = [];
    this.spaceLeft = null;
  }

  /**
   * Counts one operation and says what happens to it: `{ errno }` to fail it,
   * `{ bytes }` to let only that many bytes through, or null to run it unchanged. A write
   * cut short transfers a multiple of `granularity` bytes (a direct write moves whole
   * blocks); one that would move nothing for lack of space fails with ENOSPC instead.
   */
  next(
    op: FaultableOp,
    requested: number,
    granularity = 1,
  ): { errno: number } | { bytes: number } | null {
    this.counts[op]++;
    const isWrite = op === 'write' || op === 'writev';
    const counter = isWrite ? ++this.writes : this.counts[op];
    const matchOp = isWrite ? 'write' : op;
    const index = this.armed.findIndex((f) => f.op === matchOp && f.at === counter);
    const fault = index < 0 ? undefined : this.armed.splice(index, 1)[0];
    if (fault?.kind === 'eio') return { errno: Errno.EIO };
    let allowed = fault?.kind === 'short-write' ? Math.min(fault.bytes, requested) : requested;
    if (isWrite && this.spaceLeft !== null && this.spaceLeft <= allowed) {
      allowed = this.spaceLeft - (this.spaceLeft % granularity);
      if (allowed === 0 && requested > 0) return { errno: Errno.ENOSPC };
    } else if (allowed < requested) {
      allowed -= allowed % granularity;
    }
    if (isWrite && this.spaceLeft !== null) this.spaceLeft -= allowed;
    return allowed === requested ? null : { bytes: allowed };
  }
}
