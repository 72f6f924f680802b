import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { KV } from '@nats-io/kv';
import { WalError, WalErrorCode } from '@walnut/codec';
import { describe } from './link.js';

/** Who is primary: the holder's directory id and its epoch (the lease value, JSON). */
export interface Lease {
  readonly epoch: number;
  readonly holder: string;
  /** When it was taken (ms since the epoch, for people reading it). */
  readonly since: number;
}

export interface LeaseEntry {
  readonly lease: Lease;
  readonly revision: number;
}

const KEY = 'primary';

export async function readLease(kv: KV): Promise<LeaseEntry | null> {
  const entry = await kv.get(KEY);
  if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return null;
  return { lease: parseLease(entry.value), revision: entry.revision };
}

export function parseLease(value: Uint8Array): Lease {
  try {
    const lease = JSON.parse(Buffer.from(value).toString('utf8')) as Lease;
    if (!Number.isSafeInteger(lease.epoch) || typeof lease.holder !== 'string')
      throw new Error('bad fields');
    return lease;
  } catch (error) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `the primary lease in the key-value store is not Walnut's (${(error as Error).message}); check that nothing else writes the bucket`,
    );
  }
}

/**
 * Takes the lease for `holder` at the epoch after the one in `current` and after `floor`
 * (epoch 1 when neither has one), by compare-and-set: it fails if anyone changed the lease since `current`
 * was read. Returns the new lease.
 */
export async function takeLease(
  kv: KV,
  holder: string,
  current: LeaseEntry | null,
  floor = 0,
): Promise<LeaseEntry> {
  // `floor`: the highest epoch the taker has seen. A bucket lost with the cluster's power
  // comes back empty; the epoch must still not go back (issue #38).
  const epoch = Math.max(current?.lease.epoch ?? 0, floor) + 1;
  const lease: Lease = { epoch, holder, since: Date.now() };
  const value = JSON.stringify(lease);
  try {
    const revision =
      current === null
        ? await kv.create(KEY, value)
        : await kv.update(KEY, value, current.revision);
    return { lease, revision };
  } catch (error) {
    if (isConflict(error)) {
      throw new WalError(
        WalErrorCode.FENCED,
        `another node changed the primary lease while this one was taking it (${describe(error)}); read who is primary now and retry if this node should still take over`,
        { cause: error },
      );
    }
    // A write that timed out may still have been stored: the lease may now name this node.
    throw new WalError(
      WalErrorCode.IO,
      `the cluster cannot be reached to take the primary lease at epoch ${epoch} (${describe(error)}); whether it was taken is unknown. Once a quorum of the cluster is up, try again (open the directory again, or open the follower again and promote it): the next attempt takes the epoch after whichever is current`,
      { cause: error, details: { epoch } },
    );
  }
}

/** Whether the compare-and-set failed because the lease was no longer at the revision read. */
function isConflict(error: unknown): boolean {
  return (
    error instanceof JetStreamApiError &&
    (error.code === JetStreamApiCodes.StreamWrongLastSequence ||
      error.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

/**
 * Calls `onChange` with each lease written after `revision` (a takeover by another node);
 * returns a function that stops watching.
 */
export async function watchLease(
  kv: KV,
  afterRevision: number,
  onChange: (lease: Lease | null) => void,
): Promise<() => void> {
  const watch = await kv.watch({ key: KEY, resumeFromRevision: afterRevision + 1 });
  void (async () => {
    try {
      for await (const entry of watch) {
        if (entry.revision <= afterRevision) continue;
        onChange(entry.operation === 'PUT' ? parseLease(entry.value) : null);
      }
    } catch {
      // The watch ends with the connection; publishes still fence through the stream.
    }
  })();
  return () => watch.stop();
}
