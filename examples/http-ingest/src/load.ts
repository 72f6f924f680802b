import autocannon from 'autocannon';

export interface LoadOptions {
  /** Must be a loopback address: this load generator never targets another machine. */
  readonly url: string;
  readonly connections: number;
  /** Requests to send in total. */
  readonly amount: number;
  /** Stop after this long even if `amount` was not reached. */
  readonly maxSeconds: number;
  readonly bodyBytes?: number;
}

export interface LoadResult {
  readonly requests: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly seconds: number;
}

const LOOPBACK = /^http:\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//;

/** A bounded autocannon run of `POST /records` against a server on this machine. */
export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  if (!LOOPBACK.test(options.url)) {
    throw new Error(
      `refusing to send load to ${options.url}: only 127.0.0.0/8, localhost or [::1]`,
    );
  }
  let stop: NodeJS.Timeout | undefined;
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(
      {
        url: new URL('/records', options.url).toString(),
        method: 'POST',
        body: Buffer.alloc(options.bodyBytes ?? 256, 'x').toString(),
        headers: { 'content-type': 'application/octet-stream' },
        connections: options.connections,
        amount: options.amount,
        timeout: 10,
      },
      (error, r) => (error ? reject(error) : resolve(r)),
    );
    stop = setTimeout(() => instance.stop(), options.maxSeconds * 1000);
  });
  try {
    const r = await result;
    return {
      requests: r.requests.total,
      non2xx: r.non2xx,
      errors: r.errors + r.timeouts,
      requestsPerSecond: r.requests.total / (r.duration || 1),
      p50Ms: r.latency.p50,
      p99Ms: r.latency.p99,
      seconds: r.duration,
    };
  } finally {
    clearTimeout(stop);
  }
}
