import { describe, expect, it } from 'vitest';
import { countSyncSyscalls, judgeDurability } from './durability.js';
import { workloadSpecs } from './workloads.js';

const specs = workloadSpecs('full');

describe('counting durability syscalls in an strace log', () => {
  it('counts successful fsync/fdatasync, msync only with MS_SYNC, and resumed calls', () => {
    const trace = [
      '101 openat(AT_FDCWD, "/d/log", O_WRONLY|O_CREAT|O_CLOEXEC, 0666) = 18',
      '101 fdatasync(18)                     = 0',
      '102 fsync(19 <unfinished ...>',
      '101 fdatasync(18)                     = -1 EIO (Input/output error)',
      '102 <... fsync resumed>)              = 0',
      '103 msync(0x7f00, 4096, MS_ASYNC)     = 0',
      '103 msync(0x7f00, 4096, MS_SYNC)      = 0',
    ].join('\n');
    const counts = countSyncSyscalls(trace);
    expect(counts).toMatchObject({ fdatasync: 1, fsync: 1, msyncSync: 1, syncOpens: 0 });
  });

  it('sees files opened with O_DSYNC', () => {
    const counts = countSyncSyscalls('7 openat(AT_FDCWD, "/d/log", O_WRONLY|O_DSYNC) = 3');
    expect(counts.syncOpens).toBe(1);
  });
});

describe('judging a durable run', () => {
  const none = { fsync: 0, fdatasync: 0, msyncSync: 0, syncFileRange: 0, syncfs: 0, syncOpens: 0 };

  it('calls a W1 run without any sync not durable', () => {
    const verdict = judgeDurability(specs.W1, {
      strace: none,
      selfReported: null,
      invisibleToStrace: false,
    });
    expect(verdict.status).toBe('not-durable');
  });

  it('needs one sync per record in W2', () => {
    const verdict = judgeDurability(specs.W2, {
      strace: { ...none, fdatasync: specs.W2.records - 1 },
      selfReported: null,
      invisibleToStrace: false,
    });
    expect(verdict.status).toBe('not-durable');
  });

  it('needs a sync per 64 records in W3, since each producer has one record pending', () => {
    const enough = judgeDurability(specs.W3, {
      strace: { ...none, fdatasync: Math.ceil(specs.W3.records / 64) },
      selfReported: null,
      invisibleToStrace: false,
    });
    expect(enough.status).toBe('durable');
  });

  it('distrusts a contender that reports more syncs than the kernel saw', () => {
    const verdict = judgeDurability(specs.W1, {
      strace: { ...none, fdatasync: 1 },
      selfReported: 5,
      invisibleToStrace: false,
    });
    expect(verdict.status).toBe('not-durable');
  });

  it('uses the StorageIo count for io_uring, whose syncs strace cannot see', () => {
    const verdict = judgeDurability(specs.W1, {
      strace: none,
      selfReported: 1,
      invisibleToStrace: true,
    });
    expect(verdict).toMatchObject({ status: 'durable', source: 'StorageIo sync completions' });
  });
});
