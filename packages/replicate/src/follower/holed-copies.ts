import { WalError, WalErrorCode } from '@walnut/wal';
import type { ClusterLink } from '../cluster/link.js';
import { ShortCopies } from '../cluster/short-copies.js';
import type { GapError } from '../local/applier.js';

/**
 * Consumers placed on a server found with the hole that are placed again, per hole: each
 * placement is the server's choice, so with one whole copy of three, eight placements all
 * miss it once in 26.
 */
const PLACEMENTS = 8;
/** Holes met per hole before the follower stops, whoever served them (a bound on the loop). */
const MEETINGS = 12;

/**
 * The copies of the stream found missing records in their middle, as a follower met them
 * (docs/decisions/0917). A follower's consumer reads the copy of the one server nats-server
 * placed it on, and the copies share their sequence numbers: a consumer placed on another
 * server, from the sequence after the last one applied, reads the records from a whole
 * copy. Only once every server holding a copy served the hole does the follower stop.
 */
export class HoledCopies {
  private readonly found = new ShortCopies();
  /** The LSN needed when the hole was met, and the sequence to consume from past it. */
  private hole: { needFrom: bigint; streamHas: bigint; resumeSeq: number } | null = null;
  private placements = 0;
  private meetings = 0;
  /** Holes met: the copies a consumer was served that missed records in their middle. */
  met = 0;

  constructor(private readonly link: ClusterLink) {}

  /**
   * The sequence to consume from while a hole's records are not applied yet (null
   * otherwise: the stream is searched for the next LSN, as always).
   */
  resumeSeq(appended: bigint): number | null {
    if (this.hole === null) return null;
    if (appended >= this.hole.streamHas - 1n) {
      this.hole = null;
      return null;
    }
    return this.hole.resumeSeq;
  }

  /** Whether a consumer placed on `server` should be placed again: its copy has the hole. */
  avoids(server: string | undefined): boolean {
    if (this.hole === null || server === undefined || !this.found.has(server)) return false;
    return ++this.placements <= PLACEMENTS;
  }

  /**
   * The copy on `server` missed `gap`'s records, after sequence `lastSeq`: the reason to
   * consume again from another server, or the error to stop with once every copy has it.
   */
  async meet(
    gap: GapError,
    server: string | undefined,
    lastSeq: number,
  ): Promise<string | WalError> {
    this.met++;
    if (this.hole?.needFrom !== gap.needFrom) {
      this.found.reset();
      this.placements = 0;
      this.meetings = 0;
      this.hole = { needFrom: gap.needFrom, streamHas: gap.streamHas, resumeSeq: lastSeq + 1 };
    }
    const missing = `LSNs ${gap.needFrom}–${gap.streamHas - 1n}`;
    const servers = (await this.link.leadership().catch(() => null))?.servers;
    if (++this.meetings <= MEETINGS) {
      // Not known now (no leader, no answer): looked at again when the hole is met again.
      if (servers === undefined || server === undefined) {
        return `a copy of the stream misses ${missing}; consuming again`;
      }
      if (this.found.tryAnother({ leader: server, servers })) {
        return `${server}'s copy of the stream misses ${missing}: consuming from another server's copy`;
      }
    }
    return this.everyCopy(gap, missing, servers ?? []);
  }

  private everyCopy(gap: GapError, missing: string, servers: readonly string[]): WalError {
    const served = this.found.servers();
    const all = servers.length > 0 && servers.every((server) => served.includes(server));
    const which = all
      ? `every server holding it (${servers.join(', ')})`
      : `${this.meetings} copies this follower was served (from ${served.join(', ') || 'servers it could not name'})`;
    return new WalError(
      WalErrorCode.DIVERGED,
      `the stream misses ${missing} in its middle as ${which} served it (records its servers lost), so this replica cannot catch up from it; start it from a copy (backup) of the primary's log`,
      { details: { needFrom: gap.needFrom, streamHas: gap.streamHas, served }, cause: gap },
    );
  }
}
