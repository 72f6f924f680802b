/**
 * The load: `producers` HTTP producers over `streams` streams, each POSTing one small
 * JSON message at a time with producer headers and waiting for its acknowledgement, retrying
 * the same stamp after a failure. Producer `p` writes to streams p, p + producers, … in turn,
 * with a producer id per (producer, stream), so each stamp sequence is its own.
 *
 * The POSTs go through `node:http` with a keep-alive agent, not `fetch`: on this 2-core host
 * undici's fetch took 1.1 ms of client CPU per request, so the load generator, sharing the
 * cores with the server, set the pace for both servers (2026-11-27, quiet machine).
 */
import { Agent, request } from 'node:http';

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

export const streamPath = (url: string, s: number) => `${url}/v1/stream/bench-${s}`;

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

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** One POST; rejects when the server cannot be reached or the answer does not come in time. */
function post(agent: Agent, url: string, headers: Record<string, string>, body: string) {
  return new Promise<Answer>((resolve, reject) => {
    const req = request(url, { method: 'POST', agent, headers, timeout: 30_000 }, (res) => {
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      res.resume();
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 30 s')));
    req.on('error', reject);
    req.end(body);
  });
}

export async function runLoad(options: LoadOptions): Promise<void> {
  const { producers, streams } = options;
  const nextSeq = new Map<string, number>();
  const agent = new Agent({ keepAlive: true, maxSockets: producers });
  const producer = async (p: number) => {
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
        res = await post(
          agent,
          streamPath(options.url(), stream),
          {
            'content-type': 'application/json',
            'content-length': String(Buffer.byteLength(body)),
            'producer-id': id,
            'producer-epoch': '0',
            'producer-seq': String(seq),
          },
          body,
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
    agent.destroy();
  }
}
