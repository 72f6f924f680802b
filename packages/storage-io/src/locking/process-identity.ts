import { readFileSync, readlinkSync } from 'node:fs';
import { isDenoPermissionError, runtimeLabel } from '@walnut/codec';

/**
 * What names a process uniquely on one machine, across pid reuse and reboots: its pid, the
 * time it started (clock ticks since boot, /proc/<pid>/stat field 22), the boot it started
 * in, the machine, and the pid namespace its pid means something in.
 */
export interface ProcessIdentity {
  readonly pid: number;
  readonly startTime: string;
  readonly bootId: string;
  readonly machineId: string;
  readonly pidNamespace: string;
}

/** Whether the process an identity names still runs, as far as this process can prove. */
export type Liveness =
  | { readonly kind: 'this-process' }
  | { readonly kind: 'alive' }
  | { readonly kind: 'gone'; readonly why: string }
  | { readonly kind: 'unknown'; readonly why: string };

let own: ProcessIdentity | string | undefined;

/** This process's identity, or why it cannot be established here (no /proc, say). */
export function ownIdentity(): ProcessIdentity | string {
  own ??= readOwnIdentity();
  return own;
}

function readOwnIdentity(): ProcessIdentity | string {
  try {
    return {
      pid: process.pid,
      startTime:
        startTimeIn(readFileSync('/proc/self/stat', 'utf8')) ??
        fail('/proc/self/stat has no start time'),
      bootId: readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim(),
      machineId: machineId(),
      pidNamespace: readlinkSync('/proc/self/ns/pid'),
    };
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    // Deno shows /proc only to a program run with -A, whatever --allow-read names.
    if (isDenoPermissionError(error))
      return `${runtimeLabel()} does not let this program read /proc, where process start times and boot ids are (${detail}); Deno grants it only with -A (--allow-all)`;
    return `this system does not show process start times and boot ids (${detail})`;
  }
}

function fail(message: string): never {
  throw new Error(message);
}

function machineId(): string {
  for (const path of ['/etc/machine-id', '/var/lib/dbus/machine-id']) {
    try {
      const id = readFileSync(path, 'utf8').trim();
      if (id.length > 0) return id;
    } catch {
      // try the next place
    }
  }
  // A host name is weaker (two machines may share one) but never makes a live owner look gone:
  // a different name only ever means "cannot prove".
  return `host:${readFileSync('/proc/sys/kernel/hostname', 'utf8').trim()}`;
}

/**
 * When this boot began, in milliseconds of wall-clock time (/proc/stat `btime`, whole
 * seconds rounded down, so a file changed after the boot is never dated before it), or null
 * when this system does not say.
 */
export function bootTimeMs(): number | null {
  try {
    const line = /^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'));
    return line === null ? null : Number(line[1]) * 1000;
  } catch {
    return null;
  }
}

/** Field 22 of /proc/<pid>/stat, or null when there is no such process. */
function startTimeOf(pid: number): string | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return startTimeIn(stat);
}

function startTimeIn(stat: string): string | null {
  // The command name (field 2) is in parentheses and may itself hold spaces and parentheses.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields[19] ?? null;
}

/**
 * Judges an owner recorded by another (or this) process. "gone" only when proven: same
 * machine and pid namespace, and then another boot, no such pid, or a pid reused by a
 * process that started at another time. Anything else that does not match is "unknown".
 */
export function liveness(owner: ProcessIdentity): Liveness {
  const self = ownIdentity();
  if (typeof self === 'string') return { kind: 'unknown', why: self };
  if (owner.machineId !== self.machineId)
    return { kind: 'unknown', why: `it runs on another machine (${owner.machineId})` };
  if (owner.bootId !== self.bootId)
    return { kind: 'gone', why: 'the machine has rebooted since it took the lock' };
  if (owner.pidNamespace !== self.pidNamespace)
    return {
      kind: 'unknown',
      why: `it runs in another pid namespace (${owner.pidNamespace}), e.g. another container`,
    };
  if (owner.pid === self.pid && owner.startTime === self.startTime) return { kind: 'this-process' };
  const startTime = startTimeOf(owner.pid);
  if (startTime === null) return { kind: 'gone', why: `no process ${owner.pid} exists` };
  if (startTime !== owner.startTime)
    return { kind: 'gone', why: `pid ${owner.pid} now belongs to a process started later` };
  return { kind: 'alive' };
}
