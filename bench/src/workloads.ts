/** The standard workloads of issue 8 (W6: issue 20), with the counts of a full and a quick run. */

export type WorkloadId = 'W1' | 'W2' | 'W3' | 'W4' | 'W5' | 'W6';
export type Mode = 'full' | 'quick';

/** W6: the fixed rates of durable appends and of unrelated HTTP requests beside them. */
export interface ServingPlan {
  /** Durable appends per second, all producers together, on a fixed schedule. */
  readonly appendsPerSec: number;
  /** Requests per second the load generator sends, whatever the answers' pace (open loop). */
  readonly requestsPerSec: number;
  /** `monitorEventLoopDelay` resolution (ms): a 1 kHz timer sees a 1 ms stall. */
  readonly loopResolutionMs: number;
  /** The same load, unmeasured, before the measured schedule (start-up is not a steady state). */
  readonly warmUpMs: number;
}

export interface WorkloadSpec {
  readonly id: WorkloadId;
  readonly title: string;
  readonly records: number;
  readonly recordSize: number;
  /** Concurrent producers (W3, W6). */
  readonly producers: number;
  /**
   * Timed repetitions in a full run, so each row is a median with a spread: 3 for W1, W4 and
   * W6, 5 for the disk-bound W2, W3 and W5 (the shared machine's fdatasync latency and write
   * bandwidth alone move them by ±40–60% between runs); 1 in a quick run.
   */
  readonly repetitions: number;
  /** Whether the workload promises durability (and so is checked for fsyncs). */
  readonly durable: boolean;
  /** W6 only. */
  readonly serving?: ServingPlan;
}

const KIB = 1024;

export function workloadSpecs(mode: Mode): Record<WorkloadId, WorkloadSpec> {
  const quick = mode === 'quick';
  return {
    W1: {
      id: 'W1',
      title: `buffered: ${quick ? '20,000' : '1,000,000'} × 128 B, one durable sync at the end`,
      records: quick ? 20_000 : 1_000_000,
      recordSize: 128,
      producers: 1,
      repetitions: quick ? 1 : 3,
      durable: true,
    },
    W2: {
      id: 'W2',
      title: `fsync-each: ${quick ? '100' : '2,000'} × 128 B, each durable before the next`,
      records: quick ? 100 : 2_000,
      recordSize: 128,
      producers: 1,
      repetitions: quick ? 1 : 5,
      durable: true,
    },
    W3: {
      id: 'W3',
      title: `group commit: 64 producers, ${quick ? '2,000' : '50,000'} × 128 B, each awaiting durability`,
      records: quick ? 2_000 : 50_000,
      recordSize: 128,
      producers: 64,
      repetitions: quick ? 1 : 5,
      durable: true,
    },
    W4: {
      id: 'W4',
      title: "replay: W1's records in order, checksums verified where the system has them",
      records: quick ? 20_000 : 1_000_000,
      recordSize: 128,
      producers: 1,
      repetitions: quick ? 1 : 3,
      durable: false,
    },
    W5: {
      id: 'W5',
      title: `large: ${quick ? '200' : '10,000'} × 64 KiB, one sync at the end`,
      records: quick ? 200 : 10_000,
      recordSize: 64 * KIB,
      producers: 1,
      repetitions: quick ? 1 : 5,
      durable: true,
    },
    W6: {
      id: 'W6',
      title: quick
        ? 'ingest while serving: 8 producers, 300 durable appends at 1,000/s beside HTTP requests at 200/s, after 0.1 s of the same'
        : 'ingest while serving: 8 producers, 12,000 durable appends at 2,000/s (6 s) beside HTTP requests at 500/s, after 1 s of the same',
      records: quick ? 300 : 12_000,
      recordSize: 128,
      producers: 8,
      // Three, like W1 and W4: the rate is fixed, so the spread is in the delays, not the work.
      repetitions: quick ? 1 : 3,
      durable: true,
      serving: {
        appendsPerSec: quick ? 1_000 : 2_000,
        requestsPerSec: quick ? 200 : 500,
        loopResolutionMs: 1,
        warmUpMs: quick ? 100 : 1_000,
      },
    },
  };
}

/** Seeds of the payload generator, one per workload, so every contender writes the same bytes. */
export const WORKLOAD_SEEDS: Record<WorkloadId, number> = {
  W1: 0x5eed_0001,
  W2: 0x5eed_0002,
  W3: 0x5eed_0003,
  W4: 0x5eed_0001,
  W5: 0x5eed_0005,
  W6: 0x5eed_0006,
};
