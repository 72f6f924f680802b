import type { WalStats } from '@walnut/wal';
import type { SegmentUploader } from '../cluster/uploader.js';
import type { FencedReport } from './fencing.js';
import type { Guarantee } from './guarantee.js';
import type { Shipper } from './shipper.js';

export interface ReplicatedWalStats {
  readonly role: 'primary';
  readonly mode: 'sync' | 'async';
  readonly stream: string;
  readonly epoch: number;
  readonly lastLsn: bigint;
  readonly durableLsn: bigint;
  readonly replicatedLsn: bigint;
  readonly lag: { readonly records: bigint; readonly bytes: number; readonly ms: number };
  readonly maxLagBytes: number;
  readonly streamSeq: number;
  /** The NATS server this primary is connected to now. */
  readonly connectedServer: string | null;
  readonly shipper: Shipper['counters'];
  readonly uploads: SegmentUploader['counters'];
  readonly fenced: FencedReport | null;
  /** What an acknowledged append means on this cluster (README "What an acknowledgement guarantees"). */
  readonly guarantee: Guarantee;
  readonly wal: WalStats;
}
