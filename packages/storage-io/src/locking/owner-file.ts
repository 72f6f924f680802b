import { linkSync, lstatSync, readdirSync, renameSync, unlinkSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ioErrorFromNode, isNotFound, WalError, WalErrorCode } from '@walnut/codec';
import { lockedError } from '../contract/errors.js';
import { syncDirectoryOf, writeDurably } from './durable-file.js';
import {
  formatOwnerRecord,
  newOwnerRecord,
  type OwnerRecord,
  readOwnerRecord,
} from './owner-record.js';
import { bootTimeMs, type Liveness, liveness, type ProcessIdentity } from './process-identity.js';

/**
 * A lock that needs nothing but the file system: a file holding its owner's identity,
 * created exclusively (link(2) of a complete, fsynced temporary file, so it is never seen
 * half written, not even after a power cut) and taken over only when its owner is provably
 * gone. Taking over is the racy part — two newcomers may find the same stale owner — so the
 * right to replace one stale file is itself a file created exclusively, named after it
 * (decision 0207).
 */
export interface OwnerFileClaim {
  readonly record: OwnerRecord;
  release(): void;
}

/** Rounds before giving up on a lock others keep taking over (each round sleeps a little). */
const MAX_ROUNDS = 100;

/**
 * `flockHeld`: the caller holds the flock on the lock file. Then a record of a live process
 * on this machine, in this boot and pid namespace (this one or another), whose owner held the
 * flock too is stale: that owner's flock would have refused the caller's (each open(2) has
 * its own, and one kernel keeps them all), and an owner removes its record before it lets go
 * of its flock, so it was let go without the record — by a worker thread that ended with its
 * log open, whose descriptor its environment's teardown closed.
 */
export async function claimOwnerFile(
  path: string,
  self: ProcessIdentity,
  flockHeld = false,
): Promise<OwnerFileClaim> {
  const mine = newOwnerRecord(self, flockHeld);
  try {
    return await claimRounds(path, mine, flockHeld);
  } catch (error) {
    // Failed part way (a full disk, say): a record of ours left at `path` would refuse this
    // process's next attempt as if another writer of its own held the log. Removing it can
    // fail for the same reason (no descriptor left): the first failure is the one reported.
    try {
      removeIfMine(path, mine);
    } catch {}
    throw ioErrorFromNode(error, 'lock', path);
  }
}

async function claimRounds(
  path: string,
  mine: OwnerRecord,
  flockHeld: boolean,
): Promise<OwnerFileClaim> {
  for (let round = 0; round < MAX_ROUNDS; round++) {
    if (createExclusive(path, mine)) return claimed(path, mine);
    const current = readOwnerRecord(path);
    if (current === null) continue; // released in the meantime
    let stale: Stale | null | 'vanished';
    if (current === 'garbled') {
      stale = staleUnreadable(path);
      if (stale === 'vanished') continue;
      if (stale === null) throw garbled(path);
    } else {
      const verdict = liveness(current);
      const leftBehind =
        flockHeld &&
        current.flock === true &&
        (verdict.kind === 'this-process' || verdict.kind === 'alive');
      if (verdict.kind !== 'gone' && !leftBehind) throw heldBy(path, current, verdict, flockHeld);
      stale = staleRecord(current);
    }
    const outcome = replaceStale(path, path, stale, mine);
    if (outcome === 'won') return claimed(path, mine);
    if (outcome === 'busy') await sleep(2 + Math.random() * 8);
  }
  throw new WalError(
    WalErrorCode.LOCKED,
    `${path} kept changing hands while this process tried to take it; another process is opening the same log — stop it, or retry`,
    { details: { path } },
  );
}

/** A file at some path that provably names no live process, and how to tell it is still there. */
interface Stale {
  /** Names the takeover marker: the same stale file always gives the same key. */
  readonly key: string;
  isStillAt(path: string): boolean;
}

function staleRecord(record: OwnerRecord): Stale {
  return {
    key: record.nonce,
    isStillAt(path) {
      const now = readOwnerRecord(path);
      return now !== null && now !== 'garbled' && now.nonce === record.nonce;
    },
  };
}

/**
 * An unreadable owner file is stale when it was last changed before this boot: no process
 * running now wrote it. (A writer of this version never leaves one: it fsyncs before it
 * links. Older ones linked unsynced files, which a power cut left empty.) Null when it was
 * changed in this boot, 'vanished' when it is gone.
 */
function staleUnreadable(path: string): Stale | null | 'vanished' {
  const boot = bootTimeMs();
  let found: { ino: bigint; ctimeNs: bigint };
  try {
    found = lstatSync(path, { bigint: true });
  } catch (error) {
    if (isNotFound(error)) return 'vanished';
    throw error;
  }
  if (boot === null || found.ctimeNs >= BigInt(boot) * 1_000_000n) return null;
  return {
    key: `before-boot-${found.ino}-${found.ctimeNs}`,
    isStillAt(at) {
      try {
        const now = lstatSync(at, { bigint: true });
        return now.ino === found.ino && now.ctimeNs === found.ctimeNs;
      } catch {
        return false;
      }
    },
  };
}

function isStale(verdict: Stale | null | 'vanished'): verdict is Stale {
  return verdict !== null && verdict !== 'vanished';
}

type Outcome = 'won' | 'busy' | 'changed';

/**
 * Replaces `stale` at `path` (the owner file or one of its markers) with `mine`, if no other
 * process is doing the same: only the creator of `<owner file>.takeover-<stale key>` may. A
 * creator that died leaves that marker stale in turn, and it is taken over the same way.
 * Markers sit beside the owner file, named by the key alone, never by the marker they take
 * over: names nested one level per taker grew with each power cut during a takeover until
 * they passed the file system's name limit (seen with crashfs).
 */
function replaceStale(owner: string, path: string, stale: Stale, mine: OwnerRecord): Outcome {
  const marker = `${owner}.takeover-${stale.key}`;
  if (!createExclusive(marker, mine)) {
    const other = readOwnerRecord(marker);
    if (other === null) return 'changed';
    let below: Stale | null | 'vanished';
    if (other === 'garbled') {
      below = staleUnreadable(marker);
      if (below === 'vanished') return 'changed';
      if (below === null) throw garbled(marker);
    } else {
      if (liveness(other).kind !== 'gone') return 'busy';
      below = staleRecord(other);
    }
    const outcome = replaceStale(owner, marker, below, mine);
    if (outcome !== 'won') return outcome;
  }
  // The marker is ours: nobody else replaces `stale`, and a live owner never comes back to it.
  // Removed whatever happens: a marker naming this (live) process would keep every later
  // attempt of this process waiting for itself.
  try {
    if (!stale.isStillAt(path)) return 'changed';
    const temporary = temporaryFor(path, mine);
    try {
      writeDurably(temporary, formatOwnerRecord(mine));
      renameSync(temporary, path);
    } catch (error) {
      unlinkQuietly(temporary);
      throw error;
    }
    syncDirectoryOf(path);
    return 'won';
  } finally {
    removeIfMine(marker, mine);
  }
}

function claimed(path: string, mine: OwnerRecord): OwnerFileClaim {
  sweepLeftovers(path);
  let released = false;
  return {
    record: mine,
    release() {
      if (released) return;
      released = true;
      try {
        removeIfMine(path, mine);
      } catch (error) {
        throw ioErrorFromNode(error, 'unlock', path);
      }
    },
  };
}

/**
 * Takeover markers and temporary files whose makers died (a SIGKILL or a power cut between
 * writing and linking or removing them): harmless once the lock has an owner, so removed.
 */
function sweepLeftovers(path: string): void {
  const base = basename(path);
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return;
  }
  for (const name of names) {
    const leftover =
      name.startsWith(`${base}.takeover-`) ||
      (name.startsWith(`${base}.`) && name.endsWith('.tmp'));
    if (!leftover) continue;
    const file = join(dirname(path), name);
    const record = readOwnerRecord(file);
    if (record === null) continue;
    if (record === 'garbled' ? isStale(staleUnreadable(file)) : liveness(record).kind === 'gone') {
      unlinkQuietly(file);
    }
  }
}

/** Creates `path` holding `record`, atomically, durably and only if it does not exist. */
function createExclusive(path: string, record: OwnerRecord): boolean {
  const temporary = temporaryFor(path, record);
  try {
    writeDurably(temporary, formatOwnerRecord(record));
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  } finally {
    unlinkQuietly(temporary);
  }
  syncDirectoryOf(path);
  return true;
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

function heldBy(path: string, owner: OwnerRecord, verdict: Liveness, flockHeld: boolean): WalError {
  if (verdict.kind === 'this-process') {
    // With a flock, a worker that ended with its log open let go of it (claimOwnerFile).
    const ended = flockHeld
      ? ''
      : '; if that writer was in a worker thread that ended without closing its log, the lock stays until this process exits: without the native addon (flock) a lock cannot tell an ended thread from a live one';
    return lockedError(path, { pid: owner.pid, self: true }, ended);
  }
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
    `${path} is not a Walnut lock file and was changed since this machine booted, so whether another writer holds this log cannot be told; make sure no process writes the log, then remove ${path}`,
    { details: { path } },
  );
}
