import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isNotFound } from '@walnut/codec';
import type { ProcessIdentity } from './process-identity.js';

/** A lock owner as written in its file: who, plus a nonce naming this one claim. */
export interface OwnerRecord extends ProcessIdentity {
  readonly nonce: string;
  /** The owner also held a flock on the lock file (a `flock 1` line; absent in older files). */
  readonly flock?: boolean;
}

const MAGIC = 'walnut-lock 1';
const FIELDS = ['pid', 'start', 'boot', 'machine', 'pidns', 'nonce'] as const;

export function newOwnerRecord(self: ProcessIdentity, flock = false): OwnerRecord {
  const record = { ...self, nonce: randomBytes(12).toString('hex') };
  return flock ? { ...record, flock: true } : record;
}

/**
 * One `key value` line per field after a magic line, so that a person who finds the file
 * can read who holds the log (as PostgreSQL's postmaster.pid can be read).
 */
export function formatOwnerRecord(record: OwnerRecord): string {
  const values = [
    record.pid,
    record.startTime,
    record.bootId,
    record.machineId,
    record.pidNamespace,
    record.nonce,
  ];
  const lines = [MAGIC, ...FIELDS.map((key, i) => `${key} ${values[i]}`)];
  if (record.flock === true) lines.push('flock 1');
  return `${lines.join('\n')}\n`;
}

/** The record in `path`: null when there is no such file, 'garbled' when it is not one. */
export function readOwnerRecord(path: string): OwnerRecord | null | 'garbled' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if (isNotFound(error)) return null;
    throw error;
  }
  const lines = text.split('\n');
  if (lines[0] !== MAGIC) return 'garbled';
  const values = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const space = line.indexOf(' ');
    if (space > 0) values.set(line.slice(0, space), line.slice(space + 1));
  }
  if (FIELDS.some((key) => !values.get(key))) return 'garbled';
  const pid = Number(values.get('pid'));
  if (!Number.isSafeInteger(pid) || pid <= 0) return 'garbled';
  return {
    pid,
    startTime: values.get('start')!,
    bootId: values.get('boot')!,
    machineId: values.get('machine')!,
    pidNamespace: values.get('pidns')!,
    nonce: values.get('nonce')!,
    ...(values.get('flock') === '1' ? { flock: true } : {}),
  };
}
