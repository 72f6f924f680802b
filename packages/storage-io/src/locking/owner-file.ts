import { linkSync, readdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { WalError, WalErrorCode } from '@walnut/codec';
import { lockedError } from '../contract/errors.js';
import {
  formatOwnerRecord,
  newOwnerRecord,
  type OwnerRecord,
  readOwnerRecord,
} from './owner-record.js';
import { type Liveness, liveness, type ProcessIdentity } from './process-identity.js';

/**
 * A lock that needs nothing but the file system: a file holding its owner's identity,
 * created exclusively (link(2) of a complete temporary file, so it is never seen half
 * written) and taken over only when its owner is provably gone. Taking over is the racy
 * part — two newcomers may find the same stale owner — so the right to replace one stale
 * record is itself a file created exclusively, named by that record's nonce (decision 0207).
 */
export interface OwnerFileClaim {
  readonly record: OwnerRecord;
  release(): void;
}

/** Rounds before giving up on a lock others keep taking over (each round sleeps a little). */
const MAX_ROUNDS = 100;

export async function claimOwnerFile(path: string, self: ProcessIdentity): Promise<OwnerFileClaim> {
  const mine = newOwnerRecord(self);
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (createExclusive(path, mine)) return claimed(path, mine);
    const current = readOwnerRecord(path);
    if (current === null) continue; // released in the meantime
    if (current === 'garbled') throw garbled(path);
    const verdict = liveness(current);
    if (verdict.kind !== 'gone') throw heldBy(path, current, verdict);
    const outcome = replaceStale(path, current, mine);
    if (outcome === 'won') return claimed(path, mine);
    if (outcome === 'busy') await sleep(2 + Math.random() * 8);
  }
  throw new WalError(
    WalErrorCode.LOCKED,
    `${path} kept changing hands while this process tried to take it; another process is opening the same log — stop it, or retry`,
    { details: { path } },
  );
}

type Outcome = 'won' | 'busy' | 'changed';

/**
 * Replaces `stale` at `path` with `mine`, if no other process is doing the same: only the
 * creator of `<path>.takeover-<stale nonce>` may. A creator that died leaves that marker
 * stale in turn, and it is taken over the same way, one level down.
 */
function replaceStale(path: string, stale: OwnerRecord, mine: OwnerRecord): Outcome {
  const marker = `${path}.takeover-${stale.nonce}`;
  if (!createExclusive(marker, mine)) {
    const other = readOwnerRecord(marker);
    if (other === null) return 'changed';
    if (other === 'garbled') throw garbled(marker);
    if (liveness(other).kind !== 'gone') return 'busy';
    const below = replaceStale(marker, other, mine);
    if (below !== 'won') return below;
  }
  // The marker is ours: nobody else replaces `stale`, and a live owner never comes back to it.
  const now = readOwnerRecord(path);
  if (now === null || now === 'garbled' || now.nonce !== stale.nonce) {
    removeIfMine(marker, mine);
    return 'changed';
  }
  const temporary = temporaryFor(path, mine);
  writeFileSync(temporary, formatOwnerRecord(mine), { mode: 0o644 });
  renameSync(temporary, path);
  removeIfMine(marker, mine);
  return 'won';
}

function claimed(path: string, mine: OwnerRecord): OwnerFileClaim {
  sweepStaleMarkers(path);
  let released = false;
  return {
    record: mine,
    release() {
      if (released) return;
      released = true;
      removeIfMine(path, mine);
    },
  };
}

/** Markers of takeovers whose maker died: harmless once the lock has an owner, so removed. */
function sweepStaleMarkers(path: string): void {
  const prefix = `${basename(path)}.takeover-`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const marker = join(dirname(path), name);
    const record = readOwnerRecord(marker);
    if (record !== null && record !== 'garbled' && liveness(record).kind === 'gone') {
      unlinkQuietly(marker);
    }
  }
}

/** Creates `path` holding `record`, atomically and only if it does not exist. */
function createExclusive(path: string, record: OwnerRecord): boolean {
  const temporary = temporaryFor(path, record);
  writeFileSync(temporary, formatOwnerRecord(record), { mode: 0o644 });
  try {
    linkSync(temporary, path);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkQuietly(temporary);
  }
}

function temporaryFor(path: string, record: OwnerRecord): string {
  return `${path}.${record.pid}-${record.nonce}.tmp`;
}

function removeIfMine(path: string, mine: OwnerRecord): void {
  const current = readOwnerRecord(path);
  if (current !== null && current !== 'garbled' && current.nonce === mine.nonce) {
    unlinkQuietly(path);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function heldBy(path: string, owner: OwnerRecord, verdict: Liveness): WalError {
  if (verdict.kind === 'this-process') return lockedError(path, { pid: owner.pid, self: true });
  if (verdict.kind === 'alive') return lockedError(path, { pid: owner.pid, self: false });
  return lockedError(path, {
    pid: owner.pid,
    self: false,
    unprovable: `${verdict.kind === 'unknown' ? verdict.why : ''}; if no such process runs any more, remove ${path}`,
  });
}

function garbled(path: string): WalError {
  return new WalError(
    WalErrorCode.LOCK_UNAVAILABLE,
    `${path} is not a Walnut lock file, so whether another writer holds this log cannot be told; make sure no process writes the log, then remove ${path}`,
    { details: { path } },
  );
}
