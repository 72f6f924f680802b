/**
 * W6, durable ingest while serving: in the one process under test, `producers` producers
 * append durably on a fixed schedule (record i is due at i / appendsPerSec seconds: a rate
 * below saturation, so every contender does the same work), while an HTTP endpoint on
 * 127.0.0.1 answers requests that a generator in another process sends at a fixed rate. What
 * differs between contenders is how long they keep the event loop from everything else: the
 * loop's delay (`monitorEventLoopDelay`, a 1 kHz timer), the requests' latency, and whether
 * the appends kept their schedule.
 */
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { setTimeout as sleep, setImmediate as yieldToLoop } from 'node:timers/promises';
import type { LoadedContender, LogWriter } from '../contender.js';
import type { DriverTask } from '../drivers.js';
import { PayloadSet } from '../payloads.js';
import { quantile } from '../stats.js';
import type { ServingPlan } from '../workloads.js';
import { startEndpoint } from './endpoint.js';
import { type LoadHandle, type StartLoad, startLoadProcess } from './load-process.js';

/** What W6 measures beyond a rate and append latencies (all optional in `RunMetrics`). */
export interface ServingFigures {
  /** The rate the schedule asked for. */
  readonly targetPerSec: number;
  /** Event-loop delay: how late the 1 kHz timer ran, beyond its period. */
  readonly loopDelayP50Us: number;
  readonly loopDelayP99Us: number;
  readonly loopDelayMaxUs: number;
  readonly requestsSent: number;
  readonly requestsAnswered: number;
  readonly requestErrors: number;
  readonly requestP50Us: number;
  readonly requestP99Us: number;
  readonly requestMaxUs: number;
}

export interface ServingMetrics extends ServingFigures {
  readonly seconds: number;
  /** Appends made durable (all of them, unless the time bound cut the schedule short). */
  readonly records: number;
  /** The achieved rate of durable appends: records over the time from the start. */
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  /** Durable-append latency, from the call to its durability. */
  readonly p50Us: number;
  readonly p99Us: number;
  readonly selfReportedSyncs: number | null;
}

/** The schedule is cut at twice its planned length: a contender that cannot keep up says so. */
const TIME_BOUND_FACTOR = 2;

/** When record `i` is due, in ms after the start, at `perSec` records per second. */
export function dueMs(i: number, perSec: number): number {
  return (i * 1000) / perSec;
}

/** The planned length of the schedule in ms (the last record is due just before it). */
export function plannedMs(records: number, perSec: number): number {
  return dueMs(records, perSec);
}

/**
 * The histogram holds the intervals between the timer's runs (at least the resolution each);
 * the delay is what exceeds the resolution, in µs.
 */
export function loopDelayUs(histogram: IntervalHistogram, resolutionMs: number) {
  const delay = (ns: number) => Math.max(0, ns / 1000 - resolutionMs * 1000);
  return {
    loopDelayP50Us: delay(histogram.percentile(50)),
    loopDelayP99Us: delay(histogram.percentile(99)),
    loopDelayMaxUs: delay(histogram.max),
  };
}

interface Phase {
  readonly writer: LogWriter;
  readonly load: LoadHandle;
  readonly payloads: PayloadSet;
  readonly plan: ServingPlan;
  readonly producers: number;
}

/**
 * Records `first` to `first + count - 1` on the schedule, beside the plan's requests for as
 * long as the schedule lasts; producer p takes every `producers`-th record from `first + p`.
 */
async function runPhase(phase: Phase, first: number, count: number) {
  const { writer, payloads, plan, producers } = phase;
  const scheduleMs = plannedMs(count, plan.appendsPerSec);
  const latencies = new Float64Array(count);
  let durable = 0;
  let lastDurable = 0;
  const start = performance.now();
  const deadline = start + scheduleMs * TIME_BOUND_FACTOR;
  const requests = phase.load.run({
    requestsPerSec: plan.requestsPerSec,
    durationMs: scheduleMs,
  });
  const producer = async (p: number) => {
    for (let i = p; i < count; i += producers) {
      const now = performance.now();
      if (now > deadline) return;
      const wait = start + dueMs(i, plan.appendsPerSec) - now;
      // Each append starts from a callback of its own, as one prompted by I/O would: a
      // producer behind schedule must not chain appends in microtasks, out of the loop's sight.
      if (wait > 0) await sleep(wait);
      else await yieldToLoop();
      const begun = performance.now();
      await writer.appendDurable(payloads.get(first + i));
      lastDurable = performance.now();
      latencies[durable++] = lastDurable - begun;
    }
  };
  await Promise.all(Array.from({ length: producers }, (_, p) => producer(p)));
  const served = await requests;
  return {
    durable,
    seconds: (lastDurable - start) / 1000,
    latencies: latencies.subarray(0, durable).sort(),
    served,
  };
}

export async function runIngestWhileServing(
  contender: LoadedContender,
  task: DriverTask,
  startLoad: StartLoad = startLoadProcess,
): Promise<ServingMetrics> {
  const plan: ServingPlan | undefined = task.serving;
  if (plan === undefined) throw new Error(`${task.workload} has no serving plan`);
  const warmUpRecords = Math.round((plan.warmUpMs * plan.appendsPerSec) / 1000);
  const payloads = new PayloadSet(warmUpRecords + task.records, task.recordSize, task.seed);
  const writer = await contender.openWriter(task.dir, {
    workload: task.workload,
    records: warmUpRecords + task.records,
    recordSize: task.recordSize,
  });
  const endpoint = await startEndpoint();
  const load = await startLoad(endpoint.url);
  const loop = monitorEventLoopDelay({ resolution: plan.loopResolutionMs });
  try {
    const phase: Phase = { writer, load, payloads, plan, producers: task.producers };
    loop.enable();
    // The first second of a process (compilation, the log's first blocks, the first
    // collections) is not the steady state of a server: run it, then measure from scratch.
    if (warmUpRecords > 0) await runPhase(phase, 0, warmUpRecords);
    loop.reset();
    const { durable, seconds, latencies, served } = await runPhase(
      phase,
      warmUpRecords,
      task.records,
    );
    // A stall is recorded when the timer next runs: give it the chance for the last one.
    await sleep(2 * plan.loopResolutionMs);
    loop.disable();
    if (durable === 0) throw new Error('no append became durable within the time bound');
    if (served.answered === 0) {
      throw new Error(`no request was answered (${served.firstError ?? 'no error reported'})`);
    }
    return {
      seconds,
      records: durable,
      recordsPerSec: durable / seconds,
      mbPerSec: (durable * task.recordSize) / 1e6 / seconds,
      p50Us: quantile(latencies, 0.5) * 1000,
      p99Us: quantile(latencies, 0.99) * 1000,
      selfReportedSyncs: writer.syncsCompleted(),
      targetPerSec: plan.appendsPerSec,
      ...loopDelayUs(loop, plan.loopResolutionMs),
      requestsSent: served.sent,
      requestsAnswered: served.answered,
      requestErrors: served.errors,
      requestP50Us: served.p50Us,
      requestP99Us: served.p99Us,
      requestMaxUs: served.maxUs,
    };
  } finally {
    loop.disable();
    await load.close();
    await endpoint.close();
    await writer.close();
  }
}
