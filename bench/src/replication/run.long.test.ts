import { describe, expect, it } from 'vitest';
import { formatReplicationResults, runReplicationBench } from './run.js';

describe('the replication benchmark (a small run against a real 3-node cluster)', () => {
  it('measures the local Wal, sync R1/R3 and async R3 in one run and prints ratios to the local Wal', async () => {
    const results = await runReplicationBench({
      records: 300,
      producers: 16,
      recordSize: 64,
      repetitions: 1,
    });
    for (const runs of [results.local, results.syncR1, results.syncR3, results.asyncR3]) {
      expect(runs).toHaveLength(1);
      expect(runs[0]!.recordsPerSec).toBeGreaterThan(0);
      expect(runs[0]!.p99Us).toBeGreaterThanOrEqual(runs[0]!.p50Us);
    }
    expect(results.syncR3[0]!.messages).toBeGreaterThan(0);
    expect(results.syncR3[0]!.messages).toBeLessThanOrEqual(300);
    expect(results.asyncR3[0]!.drainMs).toBeGreaterThanOrEqual(0);
    // The servers' CPU is read from /proc for the replicated runs only.
    expect(results.local[0]!.serversCpuUsPerRecord).toBeUndefined();
    expect(results.syncR3[0]!.serversCpuUsPerRecord).toBeGreaterThanOrEqual(0);
    expect(results.asyncR3[0]!.serversCpuUsPerRecord).toBeGreaterThanOrEqual(0);
    const table = formatReplicationResults(results);
    expect(table).toContain('| local Wal (sync, no replication) |');
    expect(table).toContain('1.00×');
    expect(table).toContain('ReplicatedWal sync, R3 stream');
  }, 120_000);
});
