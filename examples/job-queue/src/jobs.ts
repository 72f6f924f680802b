/** A job as the producer appends it: one JSON record per job. */
export interface Job {
  readonly id: number;
  readonly kind: 'invoice' | 'email';
  readonly customer: string;
}

export function encodeJob(job: Job): Buffer {
  return Buffer.from(JSON.stringify(job));
}

export function decodeJob(payload: Uint8Array): Job {
  return JSON.parse(Buffer.from(payload).toString('utf8')) as Job;
}

/** Segment size and retention of the queue: small, so that a short run seals and deletes segments. */
export const SEGMENT_SIZE = 64 * 1024;
export const RETENTION = {
  /** All segments together: the queue's disk budget. */
  maxBytes: 256 * 1024,
  /** A consumer holds retention back while it lags at most this. */
  maxCursorLagBytes: 4 * 1024 * 1024,
};
