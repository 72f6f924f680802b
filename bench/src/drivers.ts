/**
 * The timed part of each workload. Drivers only measure: payloads are generated, files are
 * opened and closed outside the clock, and every contender is driven by the same code.
 */
import { performance } from 'node:perf_hooks';
import type { LoadedContender, WriterOptions } from './contender.js';
import { PayloadSet, ReplayDigest } from './payloads.js';
import type { ServingFigures } from './serving/driver.js';
import { quantile } from './stats.js';
import type { ServingPlan, WorkloadId } from './workloads.js';

/** W6's own figures are present in W6 runs only. */
export interface RunMetrics extends Partial<ServingFigures> {
  readonly seconds: number;
  readonly records: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Us?: number;
  readonly p99Us?: number;
  /** Durability operations the contender itself reported (null: it cannot know). */
  readonly selfReportedSyncs?: number | null;
  readonly checksumsVerified?: boolean;
  readonly cold?: boolean;
}

export interface DriverTask {
  readonly workload: WorkloadId;
  readonly dir: string;
  readonly records: number;
  readonly recordSize: number;
  readonly producers: number;
  readonly seed: number;
  /** W4: drop the page cache just before replaying. */
  readonly cold?: boolean;
  /** W6: the rates (runIngestWhileServing in serving/driver.ts). */
  readonly serving?: ServingPlan;
}

const MB = 1e6;

function throughput(seconds: number, records: number, recordSize: number) {
  return {
    seconds,
    records,
    recordsPerSec: records / seconds,
    mbPerSec: (records * recordSize) / MB / seconds,
  };
}

function latencySummary(latenciesMs: Float64Array) {
  const sorted = latenciesMs.slice().sort();
  return { p50Us: quantile(sorted, 0.5) * 1000, p99Us: quantile(sorted, 0.99) * 1000 };
}

function writerOptions(task: DriverTask): WriterOptions {
  return { workload: task.workload, records: task.records, recordSize: task.recordSize };
}

/** W1 and W5: buffered appends, one durable sync at the end (inside the clock). */
export async function runBuffered(contender: LoadedContender, task: DriverTask) {
  const payloads = new PayloadSet(task.records, task.recordSize, task.seed);
  const writer = await contender.openWriter(task.dir, writerOptions(task));
  const start = performance.now();
  for (let i = 0; i < task.records; i++) {
    const pending = writer.append(payloads.get(i));
    if (pending !== undefined) await pending;
  }
  await writer.sync();
  const seconds = (performance.now() - start) / 1000;
  const selfReportedSyncs = writer.syncsCompleted();
  await writer.close();
  return { ...throughput(seconds, task.records, task.recordSize), selfReportedSyncs };
}

/** W2: each record durable before the next is appended. */
export async function runFsyncEach(contender: LoadedContender, task: DriverTask) {
  const payloads = new PayloadSet(task.records, task.recordSize, task.seed);
  const writer = await contender.openWriter(task.dir, writerOptions(task));
  const latencies = new Float64Array(task.records);
  const start = performance.now();
  for (let i = 0; i < task.records; i++) {
    const begun = performance.now();
    await writer.appendDurable(payloads.get(i));
    latencies[i] = performance.now() - begun;
  }
  const seconds = (performance.now() - start) / 1000;
  const selfReportedSyncs = writer.syncsCompleted();
  await writer.close();
  return {
    ...throughput(seconds, task.records, task.recordSize),
    ...latencySummary(latencies),
    selfReportedSyncs,
  };
}

/** W3: `producers` concurrent producers, each awaiting the durability of its own record. */
export async function runGroupCommit(contender: LoadedContender, task: DriverTask) {
  const payloads = new PayloadSet(task.records, task.recordSize, task.seed);
  const writer = await contender.openWriter(task.dir, writerOptions(task));
  const latencies = new Float64Array(task.records);
  let next = 0;
  const producer = async () => {
    for (let i = next++; i < task.records; i = next++) {
      const begun = performance.now();
      await writer.appendDurable(payloads.get(i));
      latencies[i] = performance.now() - begun;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: task.producers }, producer));
  const seconds = (performance.now() - start) / 1000;
  const selfReportedSyncs = writer.syncsCompleted();
  await writer.close();
  return {
    ...throughput(seconds, task.records, task.recordSize),
    ...latencySummary(latencies),
    selfReportedSyncs,
  };
}

export class ReplayMismatch extends Error {
  override readonly name = 'ReplayMismatch';
}

/** W4: read back every record in order; the digest proves it was all of them, in order. */
export async function runReplay(
  contender: LoadedContender,
  task: DriverTask,
  dropCaches: () => void,
) {
  const expected = new PayloadSet(task.records, task.recordSize, task.seed).expectedDigest();
  const digest = new ReplayDigest();
  if (task.cold) dropCaches();
  const start = performance.now();
  const { checksumsVerified } = await contender.replay(task.dir, (payload) => digest.add(payload));
  const seconds = (performance.now() - start) / 1000;
  if (digest.records !== task.records || digest.value !== expected) {
    throw new ReplayMismatch(
      `replay returned ${digest.records} records (expected ${task.records}) ` +
        `with digest ${digest.value.toString(16)} (expected ${expected.toString(16)})`,
    );
  }
  return {
    ...throughput(seconds, task.records, task.recordSize),
    checksumsVerified,
    cold: task.cold === true,
  };
}
