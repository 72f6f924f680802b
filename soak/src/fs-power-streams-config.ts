/** What fs-power-streams.ts and its child agree on. */
export const STREAM_STEPS = [
  'append',
  'create',
  'delete',
  'expiry',
  'checkpoint',
  'compaction',
] as const;
export type StreamStep = (typeof STREAM_STEPS)[number];

/** Idempotent producers p0..p3; even ones append to stream `even`, odd ones to `odd`. */
export const PRODUCERS = 4;
export const PRODUCER_STREAMS = ['even', 'odd'] as const;
export const producerStream = (producer: number) => PRODUCER_STREAMS[producer % 2]!;

export interface StreamsStepConfig {
  step: StreamStep;
  /** The streams log the producers and the create / delete / expiry steps write. */
  dir: string;
  /** The log of the compaction step: short-lived streams, deleted and reclaimed. */
  churnDir: string;
  backend: 'io_uring' | 'sync-fs';
  cycle: number;
  seed: number;
  /** Per producer, the first seq never acknowledged: it is sent again, then the ones after it. */
  next: number[];
  /** Appends each producer sends this cycle. */
  appends: number;
  /** Streams of earlier create steps the delete step deletes (by name). */
  deletable: string[];
  /** Streams of earlier compaction steps, deleted by this one. */
  churnLive: string[];
}

/** Segments of 64 KiB: the steps roll over and reclaim whole segments. */
export const SEGMENT_SIZE = 64 * 1024;

/** A producer's payload: which append it belongs to, and its place in the append. */
export const producerPayload = (producer: number, seq: number, part: number) =>
  Buffer.from(`${producer}:${seq}:${part}:${'x'.repeat(40 + ((seq * 7 + part) % 200))}`);
