import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ioErrorFromNode, isNotFound, WalError, WalErrorCode } from '@walnut/codec';

/**
 * What a log directory remembers about its replication, in `<dir>/REPLICATION` (JSON,
 * written atomically): which stream it belongs to, its identity (the lease names it), and
 * the epoch it last held as primary. Segment recovery ignores the file.
 */
export interface LocalState {
  readonly version: 1;
  readonly stream: string;
  /** This directory's identity, random, created once. */
  readonly id: string;
  readonly role: 'primary' | 'follower';
  /** The epoch this directory held when it was last primary (0: never). */
  readonly epoch: number;
  /**
   * The highest epoch this directory has held or seen in the stream (absent in files
   * written before it existed: then `epoch`). The next lease it takes is above it, even
   * when the cluster lost its lease bucket.
   */
  readonly seenEpoch?: number;
}

/** The highest epoch `state` has held or seen (0 for none). */
export function highestEpoch(state: LocalState | null): number {
  return state === null ? 0 : Math.max(state.epoch, state.seenEpoch ?? 0);
}

export const STATE_FILE = 'REPLICATION';

export function readLocalState(dir: string): LocalState | null {
  let text: string;
  try {
    text = readFileSync(join(dir, STATE_FILE), 'utf8');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw ioErrorFromNode(error, 'open', join(dir, STATE_FILE));
  }
  try {
    const state = JSON.parse(text) as LocalState;
    if (state.version !== 1 || typeof state.id !== 'string' || typeof state.stream !== 'string') {
      throw new Error('unknown layout');
    }
    return state;
  } catch (error) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${join(dir, STATE_FILE)} is damaged (${(error as Error).message}); it names the stream and identity of this replica — restore it, or start a new replica in an empty directory`,
      { details: { segment: join(dir, STATE_FILE) } },
    );
  }
}

export function newLocalState(stream: string, role: LocalState['role']): LocalState {
  return { version: 1, stream, id: randomBytes(8).toString('hex'), role, epoch: 0 };
}

/** Writes the state durably: a temp file, fsync, rename, directory fsync. */
export function writeLocalState(dir: string, state: LocalState): void {
  const path = join(dir, STATE_FILE);
  try {
    const tmp = `${path}.tmp`;
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, `${JSON.stringify(state)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    const dirFd = openSync(dir, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch (error) {
    throw ioErrorFromNode(error, 'write', path);
  }
}

/** The state of `dir` (null: none yet), refused if the directory belongs to another stream. */
export function readStateFor(dir: string, stream: string): LocalState | null {
  const state = readLocalState(dir);
  if (state !== null && state.stream !== stream) {
    throw new WalError(
      WalErrorCode.BAD_STATE,
      `${dir} replicates the stream '${state.stream}', not '${stream}'; open it with stream: '${state.stream}', or use another directory`,
    );
  }
  return state;
}
