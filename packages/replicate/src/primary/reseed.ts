import type { Wal } from '@walnut/wal';
import { type LeaseEntry, readLease, takeLease } from '../cluster/lease.js';
import type { ClusterLink } from '../cluster/link.js';
import { encodeEpochMessage, messageCrc, prevOf } from '../cluster/message.js';
import { heldOfThisHistory } from '../local/history.js';
import { highestEpoch, type LocalState } from '../local/local-state.js';
import type { ResolvedPrimary } from '../options.js';
import type { Reseed } from './shipper-seam.js';

/** What a re-seed reads of its primary and tells it. */
export interface ReseedPrimary {
  /** The epoch the primary holds now. */
  held(): number;
  /** Its REPLICATION file's content now. */
  state(): LocalState;
  /** Another node holds the lease at `byEpoch`: the primary is fenced. */
  fence(byEpoch: number, reason: string): void;
  /** A lease was taken for the re-seed: recorded in REPLICATION, and watched, before anything is published under it. */
  leaseTaken(lease: LeaseEntry): Promise<void>;
  /** The re-seeding marker of `epoch` is stored: the primary ships under it from `inStream`. */
  reseeded(epoch: number, inStream: bigint): void;
}

/**
 * The stream went back below what was replicated (docs/decisions/0905): re-creates what the
 * cluster lost, takes the lease at an epoch above any this directory held or saw, and
 * publishes a re-seeding marker after what the stream still holds. The shipper then
 * publishes the log again from there.
 */
export class Reseeder {
  /**
   * The lease a re-seed took whose marker this primary has not seen stored: the next
   * attempt uses it again rather than spending an epoch per refused marker.
   */
  private spare: LeaseEntry | null = null;

  constructor(
    private readonly link: ClusterLink,
    private readonly wal: Wal,
    private readonly options: ResolvedPrimary,
    private readonly primary: ReseedPrimary,
  ) {}

  /** Re-seeds the stream; null when another node holds the lease (the primary is fenced). */
  async reseed(): Promise<Reseed | null> {
    await this.link.recreate(this.options);
    const current = await readLease(this.link.kv);
    if (
      current !== null &&
      current.lease.holder !== this.primary.state().id &&
      current.lease.epoch > this.primary.held()
    ) {
      this.primary.fence(
        current.lease.epoch,
        `the primary lease was taken at epoch ${current.lease.epoch}`,
      );
      return null;
    }
    const position = await this.link.lastPosition();
    const state = this.primary.state();
    const seen = Math.max(highestEpoch(state), this.primary.held(), position.header?.epoch ?? 0);
    let lease = this.spare;
    // Nothing was published under a spare lease still current (its marker, if stored, was
    // seen by the shipper and adopted): it serves again. Otherwise a new epoch is taken.
    if (
      lease === null ||
      current?.revision !== lease.revision ||
      current.lease.epoch !== lease.lease.epoch ||
      current.lease.holder !== state.id ||
      (position.header?.epoch ?? 0) >= lease.lease.epoch
    ) {
      lease = await takeLease(this.link.kv, state.id, current, seen);
      this.spare = lease;
      await this.primary.leaseTaken(lease);
    }
    const epoch = lease.lease.epoch;
    // What the stream holds counts as replicated only where its records are this log's.
    const inStream = await heldOfThisHistory(this.link, this.wal, position);
    // The id names the content (epoch and position): a marker retried after the stream
    // moved is another content, never taken for this one.
    const markerId = reseedMarkerId(this.link.names.stream, epoch, inStream);
    const marker = encodeEpochMessage(epoch, inStream, true, prevOf(position));
    const ack = await this.link.publishAfter(marker, markerId, position);
    // Only now does this primary write under the new epoch (a refused marker leaves it
    // shipping under the old one, and the next look at the stream decides again).
    // A duplicate is an earlier send of this marker, which may name another predecessor.
    return this.reseeded(epoch, inStream, ack.seq, ack.duplicate ? null : messageCrc(marker));
  }

  /**
   * The stream ends with a RESEED marker of `epoch`: this primary's own if it is the epoch
   * of its spare lease (epochs are taken by compare-and-set, so no other node published
   * under it) — its publish was stored but the acknowledgement lost. Null otherwise.
   */
  own(epoch: number, inStream: bigint, markerSeq: number): Reseed | null {
    if (this.spare === null || this.spare.lease.epoch !== epoch) return null;
    // Its bytes named the message it followed, which this primary does not know now.
    return this.reseeded(epoch, inStream, markerSeq, null);
  }

  private reseeded(
    epoch: number,
    inStream: bigint,
    markerSeq: number,
    markerCrc: number | null,
  ): Reseed {
    this.spare = null;
    this.primary.reseeded(epoch, inStream);
    return {
      epoch,
      inStream,
      markerSeq,
      markerId: reseedMarkerId(this.link.names.stream, epoch, inStream),
      markerCrc,
    };
  }
}

function reseedMarkerId(stream: string, epoch: number, inStream: bigint): string {
  return `${stream}:${epoch}:reseed:${inStream}`;
}
