/**
 * The plug-in contract of a contender. Each contender lives in one file under
 * `contenders/` and is loaded inside the child process that runs one workload, so a
 * contender whose package is missing or unbuilt reports why instead of breaking the run.
 */
import type { DriverTask, RunMetrics } from './drivers.js';
import type { WorkloadId } from './workloads.js';

/** Thrown by `load()` when the contender cannot run here; the message says why. */
export class NotAvailable extends Error {
  override readonly name = 'NotAvailable';
}

export interface WriterOptions {
  /** The workload being run, for contenders whose best idiom differs per workload. */
  readonly workload: WorkloadId;
  readonly recordSize: number;
  readonly records: number;
}

/** A log being written. Durable calls must only resolve once the data is on stable storage. */
export interface LogWriter {
  /** Buffered append (W1, W5): may return a promise, which the driver awaits (backpressure). */
  append(payload: Uint8Array): undefined | Promise<unknown>;
  /** Everything appended so far becomes durable (the one sync at the end of W1 and W5). */
  sync(): Promise<void>;
  /** Resolves once this record is durable (W2 sequentially, W3 from many producers at once). */
  appendDurable(payload: Uint8Array): Promise<unknown>;
  /** Durability operations the contender knows it completed (null when it cannot know). */
  syncsCompleted(): number | null;
  close(): Promise<void>;
}

export interface ReplayResult {
  /** Whether every record's checksum was verified while reading. */
  readonly checksumsVerified: boolean;
}

export interface LoadedContender {
  /** Versions of the packages this contender measures. */
  readonly versions: Record<string, string>;
  /** Facts worth printing next to the numbers (backend in use, settings). */
  readonly notes: readonly string[];
  openWriter(dir: string, options: WriterOptions): Promise<LogWriter>;
  /** Reads every record of a log written by `openWriter` (or by `replaySource`) in order. */
  replay(dir: string, visit: (payload: Uint8Array) => void): Promise<ReplayResult>;
}

/**
 * A contender that is not JavaScript (the C bound): it runs a whole workload itself and
 * measures it, so the drivers' clock never includes talking to it.
 */
export interface LoadedNativeContender {
  readonly versions: Record<string, string>;
  readonly notes: readonly string[];
  run(task: DriverTask): Promise<RunMetrics>;
}

export interface ContenderPlugin {
  readonly id: string;
  readonly label: string;
  /** The workloads this contender fits. */
  readonly workloads: readonly WorkloadId[];
  /** For a reader-only contender: the contender whose W1 log it replays in W4. */
  readonly replaySource?: string;
  /** True when durability is observed through the contender's own I/O layer, not syscalls. */
  readonly syncsInvisibleToStrace?: boolean;
  load(): Promise<LoadedContender>;
}

/** The plug-in of a contender that runs its workloads itself (LoadedNativeContender). */
export interface NativeContenderPlugin extends Omit<ContenderPlugin, 'load' | 'replaySource'> {
  /** Never: it writes no log a reader replays. */
  readonly replaySource?: undefined;
  load(): Promise<LoadedNativeContender>;
}

export type AnyContenderPlugin = ContenderPlugin | NativeContenderPlugin;
