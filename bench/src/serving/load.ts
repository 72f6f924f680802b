/**
 * W6's load generator: requests to the endpoint at a fixed rate, sent on schedule whether or
 * not earlier ones were answered (open loop), so a stalled server meets a queue, as a real
 * one would. Each latency runs from the request's sending to the end of its answer.
 */
import { Agent, get } from 'node:http';
import { performance } from 'node:perf_hooks';
import { quantile } from '../stats.js';

export interface LoadPlan {
  readonly requestsPerSec: number;
  readonly durationMs: number;
}

export interface LoadSummary {
  readonly sent: number;
  readonly answered: number;
  readonly errors: number;
  /** The first error's message, when there was one. */
  readonly firstError?: string;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** Only the loopback interface, ever: the bench must not send traffic anywhere else. */
export function checkLoopback(url: string): void {
  if (new URL(url).hostname !== '127.0.0.1') {
    throw new Error(`the W6 load generator only talks to 127.0.0.1, not ${url}`);
  }
}

/** How many requests a plan sends. */
export function requestsOf(plan: LoadPlan): number {
  return Math.max(1, Math.round((plan.requestsPerSec * plan.durationMs) / 1000));
}

/** Enough sockets that the generator's own connection pool never makes requests wait. */
const SOCKETS = 32;

export class LoadGenerator {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: SOCKETS });

  constructor(private readonly url: string) {
    checkLoopback(url);
  }

  /** Opens the connections before the clock starts (a connect is not the server's latency). */
  async warmUp(): Promise<void> {
    await Promise.all(Array.from({ length: SOCKETS }, () => this.request()));
  }

  async run(plan: LoadPlan): Promise<LoadSummary> {
    const count = requestsOf(plan);
    const interval = 1000 / plan.requestsPerSec;
    const latencies = new Float64Array(count);
    let answered = 0;
    let errors = 0;
    let firstError: string | undefined;
    const inFlight: Promise<void>[] = [];
    const start = performance.now();
    for (let i = 0; i < count; i++) {
      const wait = start + i * interval - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      const sent = performance.now();
      inFlight.push(
        this.request().then(
          () => {
            latencies[answered++] = performance.now() - sent;
          },
          (error: Error) => {
            errors++;
            firstError ??= error.message;
          },
        ),
      );
    }
    await Promise.all(inFlight);
    const sorted = latencies.subarray(0, answered).sort();
    return {
      sent: count,
      answered,
      errors,
      ...(firstError === undefined ? {} : { firstError }),
      p50Us: quantile(sorted, 0.5) * 1000,
      p99Us: quantile(sorted, 0.99) * 1000,
      maxUs: (sorted[answered - 1] ?? Number.NaN) * 1000,
    };
  }

  close(): void {
    this.agent.destroy();
  }

  private request(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      get(this.url, { agent: this.agent }, (response) => {
        response.resume();
        response.once('end', () => {
          if (response.statusCode === 200) resolve();
          else reject(new Error(`HTTP ${response.statusCode}`));
        });
        response.once('error', reject);
      }).once('error', reject);
    });
  }
}
