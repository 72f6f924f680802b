import { crc32c } from '@walnut/codec';

/**
 * The running checksum of one epoch's messages as stored (decision 0910): the CRC32C of
 * their CRCs in sequence order, from the epoch's marker on. A copy that holds the marked
 * message but another one before it (down to the marker) has another checksum.
 */
export interface EpochRun {
  readonly epoch: number;
  /** The stream sequence of the epoch's marker: the checksum starts after it, at 0. */
  readonly from: number;
  /** The sequence of the last message folded in. */
  readonly seq: number;
  readonly value: number;
}

export function beginRun(epoch: number, markerSeq: number): EpochRun {
  return { epoch, from: markerSeq, seq: markerSeq, value: 0 };
}

/** `run` with the message stored at `seq` folded in; null when `seq` does not follow it. */
export function extendRun(run: EpochRun | null, seq: number, crc: number): EpochRun | null {
  if (run === null || seq !== run.seq + 1) return null;
  return { ...run, seq, value: fold(run.value, crc) };
}

function fold(value: number, crc: number): number {
  const bytes = Buffer.allocUnsafe(4);
  bytes.writeUInt32LE(crc >>> 0, 0);
  return crc32c(bytes, value);
}

/** How many of the latest applied messages a follower keeps the running checksum of. */
const KEEP = 8192;

/**
 * A follower's running checksums of the messages it applied, since the last epoch marker it
 * saw, for the latest KEEP sequences: what the primary's mark is compared with. Unknown
 * (null) until a marker passes by, and again after a sequence was skipped.
 */
export class AppliedRuns {
  private epoch = 0;
  private from = 0;
  /** The sequence of `values[0]`. */
  private base = 0;
  /** `values[i]`: the checksum up to sequence `base + i`; empty while unknown. */
  private values: number[] = [];

  marker(epoch: number, seq: number): void {
    this.epoch = epoch;
    this.from = seq;
    this.base = seq;
    this.values = [0];
  }

  message(seq: number, crc: number): void {
    if (this.values.length === 0) return;
    const at = seq - this.base;
    // Delivered again from an earlier sequence (a consumer restarted): fold on from there.
    if (at < 1 || at > this.values.length) {
      this.values = [];
      return;
    }
    this.values.length = at;
    this.values.push(fold(this.values[at - 1]!, crc));
    if (this.values.length > 2 * KEEP) {
      this.values.splice(0, KEEP);
      this.base += KEEP;
    }
  }

  /** The checksum up to `seq` of the epoch whose marker is at `from`, if known here. */
  at(epoch: number, from: number, seq: number): number | null {
    if (this.values.length === 0 || epoch !== this.epoch || from !== this.from) return null;
    return this.values[seq - this.base] ?? null;
  }
}

/**
 * `run` with the messages of `sent` up to sequence `upTo` folded in, in sequence order:
 * what a stream found ending at `upTo` holds of them. Null when one is missing.
 */
export function extendRunTo(
  run: EpochRun | null,
  sent: readonly { readonly seq: number; readonly crc: number }[],
  upTo: number,
): EpochRun | null {
  let next = run;
  for (const entry of [...sent].sort((a, b) => a.seq - b.seq)) {
    if (next === null || entry.seq > upTo) break;
    if (entry.seq > next.seq) next = extendRun(next, entry.seq, entry.crc);
  }
  return next !== null && next.seq === upTo ? next : null;
}
