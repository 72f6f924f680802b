import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { serve } from './index.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'walnut-serve-restart-'));
  dirs.push(dir);
  return dir;
}

const text = { 'content-type': 'text/plain' };

/** A server on `dir` whose TTLs and log both follow `clock`. */
const start = (dir: string, clock: () => number) => serve(dir, { now: clock, streams: { clock } });

describe('a server started again on the same directory', () => {
  it('still refuses a Stream-Seq not above the last one it accepted', async () => {
    const dir = newDir();
    let server = await serve(dir);
    const stream = `${server.url}/v1/stream/s`;
    await fetch(stream, { method: 'PUT', headers: text });
    const first = await fetch(stream, {
      method: 'POST',
      headers: { ...text, 'stream-seq': '0002' },
      body: 'a',
    });
    expect(first.status).toBe(204);
    await server.close();
    server = await serve(dir);
    const again = `${server.url}/v1/stream/s`;
    const stale = await fetch(again, {
      method: 'POST',
      headers: { ...text, 'stream-seq': '0001' },
      body: 'b',
    });
    expect(stale.status).toBe(409);
    expect(await stale.text()).toMatch(/"0001" is not above the last one, "0002"/);
    const next = await fetch(again, {
      method: 'POST',
      headers: { ...text, 'stream-seq': '0003' },
      body: 'c',
    });
    expect(next.status).toBe(204);
    await server.close();
  });

  it("answers a producer's retry as it did before: the highest seq taken, the original offsets", async () => {
    const dir = newDir();
    let server = await serve(dir);
    const path = '/v1/stream/produced';
    await fetch(`${server.url}${path}`, { method: 'PUT', headers: text });
    const post = (url: string, seq: number) =>
      fetch(`${url}${path}`, {
        method: 'POST',
        headers: { ...text, 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': `${seq}` },
        body: `m${seq}`,
      });
    for (const seq of [0, 1, 2]) expect((await post(server.url, seq)).status).toBe(200);
    const answer = (r: Response) => ({
      status: r.status,
      seq: r.headers.get('producer-seq'),
      offset: r.headers.get('stream-next-offset'),
    });
    const before = answer(await post(server.url, 1));
    expect(before.seq).toBe('2');
    await server.close();
    server = await serve(dir);
    expect(answer(await post(server.url, 1))).toEqual(before);
    await server.close();
  });

  it.each([
    ['an append', 'POST'],
    ['a read', 'GET'],
  ])(
    'counts a Stream-TTL down from %s before the restart, not from the restart',
    async (_, method) => {
      const dir = newDir();
      let now = 1_800_000_000_000;
      const clock = () => now;
      let server = await start(dir, clock);
      const path = '/v1/stream/ttl';
      await fetch(`${server.url}${path}`, {
        method: 'PUT',
        headers: { ...text, 'stream-ttl': '10' },
      });
      now += 8_000;
      const used = await fetch(`${server.url}${path}${method === 'GET' ? '?offset=-1' : ''}`, {
        method,
        headers: text,
        ...(method === 'POST' ? { body: 'x' } : {}),
      });
      expect(used.ok).toBe(true);
      await used.arrayBuffer();
      await server.close();
      now += 5_000;
      server = await start(dir, clock);
      // 13 s after the create, 5 s after the use: alive.
      expect((await fetch(`${server.url}${path}`, { method: 'HEAD' })).status).toBe(200);
      now += 6_000;
      // 11 s after the use, 6 s after the restart: expired.
      expect((await fetch(`${server.url}${path}`, { method: 'HEAD' })).status).toBe(404);
      await server.close();
    },
  );
});
