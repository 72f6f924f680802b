/**
 * Durability is checked, not assumed. Durable runs execute under `strace -f` with a seccomp
 * filter that stops the child only on the durability syscalls (fsync, fdatasync, msync,
 * sync_file_range, syncfs) and on openat (to see O_SYNC / O_DSYNC files); every other syscall
 * runs untraced. A run is durable when it completed at least as many durability syscalls as
 * its workload needs: one for W1/W5, one per record for W2, and for W3 and W6 one per
 * `producers` records (each producer has at most one record pending, so an honest group
 * commit cannot cover more than `producers` records with one sync).
 * A contender that syncs through io_uring is invisible to strace; for it the count of
 * completed sync operations reported by its StorageIo is used, and the verdict says so.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { WorkloadSpec } from './workloads.js';

export const TRACED_SYSCALLS = 'fsync,fdatasync,msync,sync_file_range,syncfs,openat';

let straceChecked: boolean | undefined;

export function straceAvailable(): boolean {
  if (straceChecked === undefined) {
    try {
      execFileSync('strace', ['-f', '--seccomp-bpf', '-qq', '-e', 'trace=fsync', 'true'], {
        stdio: 'ignore',
      });
      straceChecked = true;
    } catch {
      straceChecked = false;
    }
  }
  return straceChecked;
}

/** The command prefix that traces a child, writing the trace to `traceFile`. */
export function straceArgs(traceFile: string): string[] {
  return ['-f', '--seccomp-bpf', '-qq', '-o', traceFile, '-e', `trace=${TRACED_SYSCALLS}`];
}

export interface SyscallCounts {
  fsync: number;
  fdatasync: number;
  msyncSync: number;
  syncFileRange: number;
  syncfs: number;
  /** Files opened with O_SYNC or O_DSYNC, whose writes are durable without a sync call. */
  syncOpens: number;
}

const SYNC_CALL =
  /(?:^|\s|<\.\.\. )(fsync|fdatasync|msync|sync_file_range2?|syncfs)(?:\(| resumed>)(.*)=\s*(-?\d+)/;
const OPEN_CALL = /openat\(.*\b(O_DSYNC|O_SYNC)\b.*=\s*(\d+)/;

/** Counts the successful durability syscalls in an strace output file. */
export function countSyncSyscalls(trace: string): SyscallCounts {
  const counts: SyscallCounts = {
    fsync: 0,
    fdatasync: 0,
    msyncSync: 0,
    syncFileRange: 0,
    syncfs: 0,
    syncOpens: 0,
  };
  const unfinishedMsync = new Map<string, string>();
  for (const line of trace.split('\n')) {
    const pid = line.split(' ', 1)[0] ?? '';
    if (line.includes('msync(') && line.includes('<unfinished ...>')) {
      unfinishedMsync.set(pid, line);
      continue;
    }
    const open = OPEN_CALL.exec(line);
    if (open !== null) {
      counts.syncOpens++;
      continue;
    }
    const call = SYNC_CALL.exec(line);
    if (call === null || call[3] !== '0') continue;
    switch (call[1]) {
      case 'fsync':
        counts.fsync++;
        break;
      case 'fdatasync':
        counts.fdatasync++;
        break;
      case 'msync': {
        // MS_ASYNC only schedules writeback; only MS_SYNC makes the mapping durable.
        const start = line.includes('resumed>') ? (unfinishedMsync.get(pid) ?? '') : line;
        unfinishedMsync.delete(pid);
        if (start.includes('MS_SYNC')) counts.msyncSync++;
        break;
      }
      case 'sync_file_range':
      case 'sync_file_range2':
        counts.syncFileRange++;
        break;
      case 'syncfs':
        counts.syncfs++;
        break;
    }
  }
  return counts;
}

/** Syscalls that make data durable (sync_file_range does not flush the device cache). */
export function durableSyscalls(counts: SyscallCounts): number {
  return counts.fsync + counts.fdatasync + counts.msyncSync + counts.syncfs;
}

export function readTrace(traceFile: string): SyscallCounts {
  return countSyncSyscalls(readFileSync(traceFile, 'utf8'));
}

/** How many durability operations a workload needs at least. */
export function requiredSyncs(spec: WorkloadSpec): number {
  switch (spec.id) {
    case 'W2':
      return spec.records;
    case 'W3':
    case 'W6':
      return Math.ceil(spec.records / spec.producers);
    default:
      return spec.durable ? 1 : 0;
  }
}

export type DurabilityVerdict =
  | { readonly status: 'durable'; readonly syncs: number; readonly source: string }
  | { readonly status: 'not-durable'; readonly syncs: number; readonly why: string }
  | { readonly status: 'unverified'; readonly why: string }
  | { readonly status: 'not-required' };

export function judgeDurability(
  spec: WorkloadSpec,
  observed: { strace?: SyscallCounts; selfReported: number | null; invisibleToStrace: boolean },
): DurabilityVerdict {
  if (!spec.durable) return { status: 'not-required' };
  const required = requiredSyncs(spec);
  let syncs: number;
  let source: string;
  if (observed.invisibleToStrace) {
    if (observed.selfReported === null) {
      return { status: 'unverified', why: 'syncs neither visible to strace nor reported' };
    }
    syncs = observed.selfReported;
    source = 'StorageIo sync completions';
  } else if (observed.strace !== undefined) {
    syncs = durableSyscalls(observed.strace);
    source = 'strace';
    if (observed.strace.syncOpens > 0 && syncs < required) {
      return { status: 'durable', syncs, source: 'strace (O_SYNC/O_DSYNC file)' };
    }
    if (observed.selfReported !== null && observed.selfReported > syncs) {
      return {
        status: 'not-durable',
        syncs,
        why: `reported ${observed.selfReported} syncs but strace saw ${syncs}`,
      };
    }
  } else {
    return { status: 'unverified', why: 'strace is not available' };
  }
  if (syncs < required) {
    return {
      status: 'not-durable',
      syncs,
      why: `${syncs} durability syscalls; the workload needs at least ${required}`,
    };
  }
  return { status: 'durable', syncs, source };
}
