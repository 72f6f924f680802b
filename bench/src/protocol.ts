/** What the parent sends a child process and what the child answers (one JSON line). */
import type { DriverTask, RunMetrics } from './drivers.js';

export interface ChildRequest {
  readonly contender: string;
  /** Absent: only load the contender and report its versions (the availability probe). */
  readonly task?: DriverTask;
}

export type ChildResponse =
  | {
      readonly kind: 'ok';
      readonly versions: Record<string, string>;
      readonly notes: readonly string[];
      readonly metrics?: RunMetrics;
    }
  | { readonly kind: 'unavailable'; readonly reason: string }
  | { readonly kind: 'failed'; readonly error: string };

export const RESPONSE_MARKER = '@@walnut-bench-result ';
