import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../test/server-process.js';

const cycles = Number(process.env.WALNUT_SERVE_CRASH_CYCLES ?? 10);
const PRODUCERS = 8;
const STREAMS = 4;
const dir = mkdtempSync(join(tmpdir(), 'walnut-serve-crash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every message of a JSON stream, in offset order, read page by page as a client would. */
async function readAll(url: string): Promise<{ p: number; seq: number }[]> {
  const all: { p: number; seq: number }[] = [];
  for (let offset = '-1', pages = 0; pages < 10_000; pages++) {
    const res = await fetch(`${url}?offset=${offset}`);
    all.push(...((await res.json()) as { p: number; seq: number }[]));
    offset = res.headers.get('stream-next-offset')!;
    if (res.headers.get('stream-up-to-date') === 'true') return all;
  }
  throw new Error(`${url} did not end within 10,000 pages`);
}

describe('walnut serve killed with SIGKILL under load', () => {
  it(`keeps every acknowledged producer POST exactly once, at its offset, over ${cycles} kills`, async () => {
    let server = await startServer(dir);
    for (let s = 0; s < STREAMS; s++) {
      const put = await fetch(`${server.url}/v1/stream/s${s}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
      });
      expect(put.status).toBe(201);
    }
    // Per producer: the next seq to send, and every acknowledgement (seq → tail after it).
    const next = new Array<number>(PRODUCERS).fill(0);
    const acks = Array.from({ length: PRODUCERS }, () => new Map<number, string>());
    let duplicates = 0;
    let stop = false;

    const producer = async (p: number) => {
      const stream = `s${p % STREAMS}`;
      while (!stop) {
        const seq = next[p]!;
        try {
          const res = await fetch(`${server.url}/v1/stream/${stream}`, {
            method: 'POST',
            headers: {
              'content-type': 'application/json',
              'producer-id': `p${p}`,
              'producer-epoch': '0',
              'producer-seq': String(seq),
            },
            body: JSON.stringify({ p, seq }),
          });
          if (res.status !== 200 && res.status !== 204) {
            throw new Error(`producer ${p} seq ${seq}: ${res.status} ${await res.text()}`);
          }
          if (res.status === 204) duplicates++;
          acks[p]!.set(seq, res.headers.get('stream-next-offset')!);
          next[p] = seq + 1;
        } catch (error) {
          // The server is down (killed, not yet restarted): retry the same stamp.
          if ((error as Error).message.startsWith('producer')) throw error;
          await sleep(20);
        }
      }
    };

    const running = Array.from({ length: PRODUCERS }, (_, p) => producer(p));
    for (let cycle = 0; cycle < cycles; cycle++) {
      await sleep(300 + Math.floor(Math.random() * 500));
      server.child.kill('SIGKILL');
      await new Promise((resolve) => server.child.once('exit', resolve));
      server = await startServer(dir);
    }
    await sleep(300);
    stop = true;
    await Promise.all(running);

    let acknowledged = 0;
    for (let s = 0; s < STREAMS; s++) {
      const all = await readAll(`${server.url}/v1/stream/s${s}`);
      const seen = new Set<string>();
      for (const m of all) {
        const key = `${m.p}:${m.seq}`;
        expect(seen.has(key), `${key} written twice`).toBe(false);
        seen.add(key);
      }
      for (let p = s; p < PRODUCERS; p += STREAMS) {
        for (const [seq, tail] of acks[p]!) {
          acknowledged++;
          // The acknowledged offset holds this POST's message: offsets were never given twice.
          const at = Number(tail.split('_')[1]) - 1;
          expect(all[at], `acknowledged ${p}:${seq} lost`).toEqual({ p, seq });
        }
      }
    }
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    console.log(
      `serve crash: ${cycles} SIGKILLs, ${acknowledged} acknowledged POSTs, ${duplicates} answered as duplicates after a retry, 0 lost, 0 twice`,
    );
    expect(acknowledged).toBeGreaterThan(cycles);
  }, 300_000);
});
