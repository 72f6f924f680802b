import { type KeyRing, pathOption } from '@walnut/codec';
import { isWalError, type Wal, WalError, WalErrorCode } from '@walnut/wal';
import { type LeaseEntry, readLease, takeLease } from '../cluster/lease.js';
import { ClusterLink } from '../cluster/link.js';
import {
  highestEpoch,
  type LocalState,
  newLocalState,
  readStateFor,
  writeLocalState,
} from '../local/local-state.js';
import { openLocalWal, openOnLink, verifyAgainstStream } from '../local/replica-log.js';
import { type PrimaryOptions, type ResolvedPrimary, resolvePrimary } from '../options.js';

/** A directory opened as primary, its lease taken: what `ReplicatedWal.begin` starts from. */
export interface LeasedPrimary {
  readonly dir: string;
  readonly wal: Wal;
  readonly link: ClusterLink;
  /** REPLICATION as written with the new epoch. */
  readonly state: LocalState;
  readonly lease: LeaseEntry;
  readonly options: ResolvedPrimary;
}

/** Starts the primary once its lease is taken (`ReplicatedWal.begin`). */
export type BeginPrimary<T> = (leased: LeasedPrimary) => Promise<T>;

/**
 * `ReplicatedWal.open`: refuses a follower's directory, connects, opens the local log and
 * takes the primary lease at a new epoch — WAL_FENCED when another node took it from this
 * directory, WAL_BAD_STATE when another primary holds it — and records that epoch in
 * REPLICATION before `begin` publishes anything under it.
 */
export async function openPrimary<T>(
  logDir: string | URL,
  options: PrimaryOptions,
  begin: BeginPrimary<T>,
): Promise<T> {
  const dir = pathOption(logDir, 'dir');
  const resolved = resolvePrimary(options);
  const found = readStateFor(dir, resolved.stream);
  if (found?.role === 'follower') {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `${dir} is a follower of '${resolved.stream}'; promote it (Follower.open(dir).promote(), or walnut promote) instead of opening it as a primary`,
    );
  }
  const link = await ClusterLink.open(resolved, resolved);
  return openOnLink(
    link,
    (maxPayload) => openLocalWal(dir, resolved.wal, maxPayload),
    async (wal) => {
      let state = found ?? newLocalState(resolved.stream, 'primary');
      const current = await readLease(link.kv);
      if (
        // The holder is this directory: it takes the next epoch even if its own record of
        // the epoch is behind (a crash between taking the lease and writing REPLICATION).
        current !== null &&
        current.lease.holder !== state.id
      ) {
        // Never primary here (epoch 0): another node's primary, not a takeover of this one.
        // The details name no LSN: this directory's is not the holder's, unknown here.
        if (state.epoch === 0) {
          throw new WalError(
            WalErrorCode.BAD_STATE,
            `'${resolved.stream}' already has a primary (epoch ${current.lease.epoch}); open this directory as a Follower and promote() it to take over`,
            { details: { epoch: current.lease.epoch } },
          );
        }
        const held = await inHistory(link, wal, resolved.wal.encryption);
        throw new WalError(
          WalErrorCode.FENCED,
          `this directory was primary of '${resolved.stream}' at epoch ${state.epoch}, but another node took over at epoch ${current.lease.epoch}; ${
            held === true
              ? `every record of its local log is in the stream (up to LSN ${wal.lastLsn}) — open it as a Follower to go on`
              : held === false
                ? `records it never replicated stay in its local log (LSN ${wal.lastLsn} is its last) — rejoin(dir, options) (\`walnut rejoin <dir>\`) cuts them, hands them back and opens it as a Follower; or open a fresh directory as a Follower, or promote one`
                : `its local log (up to LSN ${wal.lastLsn}) can no longer be checked against the stream, trimmed past it — open a fresh directory as a Follower, or promote one`
          }`,
          { details: { epoch: current.lease.epoch, lastLsn: wal.lastLsn } },
        );
      }
      const lease = await takeLease(link.kv, state.id, current, highestEpoch(state));
      state = {
        ...state,
        role: 'primary',
        epoch: lease.lease.epoch,
        seenEpoch: lease.lease.epoch,
      };
      writeLocalState(dir, state);
      return begin({ dir, wal, link, state, lease, options: resolved });
    },
  );
}

/**
 * Whether the stream's history holds every record of `wal`, with the same bytes; null when
 * neither the stream nor the object store still holds its last LSN to tell.
 */
async function inHistory(link: ClusterLink, wal: Wal, keyRing?: KeyRing): Promise<boolean | null> {
  if ((await link.findSequence(wal.lastLsn)).seq === null) return wal.lastLsn === 0n;
  try {
    await verifyAgainstStream(link, wal, wal.lastLsn, keyRing);
    return true;
  } catch (error) {
    if (isWalError(error, WalErrorCode.DIVERGED)) return false;
    if (isWalError(error, WalErrorCode.BAD_STATE)) return null;
    throw error;
  }
}
