import { WalError, WalErrorCode } from '@walnut/wal';

/** What a fenced primary knows of its records that never reached the stream. */
export interface FencedReport {
  /** The epoch of the primary that took over. */
  readonly byEpoch: number;
  readonly reason: string;
  /** LSNs this primary holds locally that the stream never acknowledged (null: none). */
  readonly unreplicated: { readonly from: bigint; readonly to: bigint } | null;
}

/**
 * Whether another node took over this primary's stream (docs/decisions/0902), and the
 * WAL_FENCED error every later append and wait is refused with.
 */
export class Fencing {
  report: FencedReport | null = null;
  /**
   * False between the takeover and the look at what the stream really holds of this
   * primary's (`settle`): waits for an acknowledgement are held until then.
   */
  final = false;
  /** The last LSN of this primary's that the stream's history holds (as far as known). */
  private inHistory = 0n;
  /** Set when the report is final without the stream having been read (`settleUnread`). */
  private unread = false;

  constructor(private readonly stream: string) {}

  /** The report once it is final (null before, and while not fenced). */
  get settled(): FencedReport | null {
    return this.final ? this.report : null;
  }

  /**
   * Records the takeover, with the LSNs after `replicatedLsn` up to `lastLsn` as the tail
   * only this primary holds. False when already fenced: the first report stands.
   */
  fence(byEpoch: number, reason: string, replicatedLsn: bigint, lastLsn: bigint): boolean {
    if (this.report !== null) return false;
    this.inHistory = replicatedLsn;
    this.report = {
      byEpoch,
      reason,
      unreplicated: lastLsn > replicatedLsn ? { from: replicatedLsn + 1n, to: lastLsn } : null,
    };
    return true;
  }

  /**
   * The stream's history holds this primary's LSNs up to `inHistory` (read after the
   * takeover: publishes acknowledged late, or never answered, are in it), so the tail only
   * it holds is the rest up to `lastLsn`. The report becomes final.
   */
  settle(inHistory: bigint, lastLsn: bigint): void {
    if (this.report === null || this.final) return;
    this.inHistory = inHistory;
    this.report = {
      ...this.report,
      unreplicated: lastLsn > inHistory ? { from: inHistory + 1n, to: lastLsn } : null,
    };
    this.final = true;
  }

  /**
   * The stream could not be read after the takeover: the report becomes final as it is, an
   * upper bound (publishes whose answer was lost may be in the history), and says so.
   */
  settleUnread(): void {
    if (this.report === null || this.final) return;
    this.unread = true;
    this.final = true;
  }

  /**
   * An append that got its LSN after the takeover (it was admitted before): its record is
   * only here too, so the reported tail reaches it.
   */
  extend(lsn: bigint): void {
    const report = this.report;
    if (report === null || lsn <= this.inHistory) return;
    if (report.unreplicated !== null && report.unreplicated.to >= lsn) return;
    this.report = { ...report, unreplicated: { from: this.inHistory + 1n, to: lsn } };
  }

  /** The refusal of a fenced primary; `lsn` names the append or wait it refuses. */
  error(lsn?: bigint): WalError {
    const report = this.report!;
    const tail =
      report.unreplicated === null
        ? 'every record of this primary was replicated'
        : this.unread
          ? `LSNs ${report.unreplicated.from}–${report.unreplicated.to} may be only in this primary's local log (the stream could not be read after the takeover to tell; the new primary's log says which of them it holds)`
          : `LSNs ${report.unreplicated.from}–${report.unreplicated.to} are only in this primary's local log and were never replicated`;
    return new WalError(
      WalErrorCode.FENCED,
      `this primary was fenced: another node became primary of '${this.stream}' at epoch ${report.byEpoch} (${report.reason}); ${lsn !== undefined ? `LSN ${lsn} was not acknowledged; ` : ''}${tail}. Close this log; append through the new primary`,
      {
        details: {
          epoch: report.byEpoch,
          ...(lsn !== undefined ? { lsn } : {}),
          unreplicated: report.unreplicated,
          unreplicatedChecked: !this.unread,
        },
      },
    );
  }
}
