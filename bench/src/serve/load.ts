/**
 * The load: `producers` HTTP producers over `streams` streams, each POSTing one small
 * JSON message at a time with producer headers and waiting for its acknowledgement, retrying
 * the same stamp after a failure. Producer `p` writes to streams p, p + producers, … in turn,
 * with a producer id per (producer, stream), so each stamp sequence is its own.
 *
 * Each producer POSTs over a keep-alive connection of its own (`HttpConnection`), not `fetch`
 * or `node:http`: on this 2-core host those clients took 1.1 ms and 230 µs of CPU per request,
 * so the load generator, sharing the cores with the server, set the pace (2026-11-27/28).
 */
import { type Answer, HttpConnection } from './http-connection.js';

export interface Ack {
  readonly stream: number;
  readonly producer: string;
  readonly seq: number;
  /** The offset token the server answered (`Stream-Next-Offset`). */
  readonly offset: string;
  readonly duplicate: boolean;
}

export interface LoadOptions {
  readonly url: () => string;
  readonly producers: number;
  readonly streams: number;
  readonly stop: () => boolean;
  /** Each acknowledgement, with its latency (ms). */
  readonly onAck: (ack: Ack, latencyMs: number) => void;
  /** A refusal the producers cannot retry through (a bug in a server). */
  readonly onRefusal: (message: string) => void;
}

/** The path of stream `s` on a server. */
const pathOf = (s: number) => `/v1/stream/bench-${s}`;
export const streamPath = (url: string, s: number) => `${url}${pathOf(s)}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Creates the streams (JSON); a server restarted mid-way finds them and answers 200. */
export async function createStreams(url: string, streams: number): Promise<void> {
  for (let s = 0; s < streams; s++) {
    const res = await fetch(streamPath(url, s), {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
    });
    if (res.status !== 201 && res.status !== 200) {
      throw new Error(`PUT bench-${s}: ${res.status} ${await res.text()}`);
    }
  }
}

const TIMEOUT_MS = 30_000;

export async function runLoad(options: LoadOptions): Promise<void> {
  const { producers, streams } = options;
  const nextSeq = new Map<string, number>();
  const connections: HttpConnection[] = [];
  const producer = async (p: number) => {
    const connection = new HttpConnection();
    connections.push(connection);
    const mine: number[] = [];
    for (let s = p % streams; s < streams; s += producers) mine.push(s);
    if (mine.length === 0) mine.push(p % streams);
    for (let turn = 0; !options.stop(); turn++) {
      const stream = mine[turn % mine.length]!;
      const id = `p${p}-s${stream}`;
      const seq = nextSeq.get(id) ?? 0;
      const started = performance.now();
      let res: Answer;
      try {
        const body = JSON.stringify({ id, seq, pad: 'x'.repeat(64) });
        res = await connection.request(
          options.url(),
          'POST',
          pathOf(stream),
          {
            'content-type': 'application/json',
            'producer-id': id,
            'producer-epoch': '0',
            'producer-seq': String(seq),
          },
          body,
          TIMEOUT_MS,
        );
      } catch {
        // The server is down (killed, restarting): the same stamp goes again.
        turn--;
        await sleep(20);
        continue;
      }
      if (res.status !== 200 && res.status !== 204) {
        options.onRefusal(`${id} seq ${seq}: ${res.status} ${res.headers['content-type']}`);
        return;
      }
      nextSeq.set(id, seq + 1);
      options.onAck(
        {
          stream,
          producer: id,
          seq,
          offset: String(res.headers['stream-next-offset'] ?? ''),
          duplicate: res.status === 204,
        },
        performance.now() - started,
      );
    }
  };
  try {
    await Promise.all(Array.from({ length: producers }, (_, p) => producer(p)));
  } finally {
    for (const connection of connections) connection.close();
  }
}
