import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DurableStreamsServer, serve } from './index.js';

const dirs: string[] = [];
const servers: DurableStreamsServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close(1_000);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const text = { 'content-type': 'text/plain' };

/** A server whose TTLs and log follow a clock the test moves, with a TTL stream at `path`. */
async function withTtlStream() {
  const dir = mkdtempSync(join(tmpdir(), 'walnut-serve-touch-'));
  dirs.push(dir);
  const clock = { now: 1_800_000_000_000 };
  const server = await serve(dir, { now: () => clock.now, streams: { clock: () => clock.now } });
  servers.push(server);
  const url = `${server.url}/v1/stream/ttl`;
  await fetch(url, { method: 'PUT', headers: { ...text, 'stream-ttl': '60' } });
  /** Log records written by `request`, once the server is idle again. */
  const recordsWrittenBy = async (request: () => Promise<Response>) => {
    const before = server.streams.log.lastLsn;
    const response = await request();
    await response.arrayBuffer();
    // A touch record is not awaited by its request: an empty write waits behind it.
    await server.streams.touch('ttl');
    return Number(server.streams.log.lastLsn - before) - 1;
  };
  return { url, clock, recordsWrittenBy };
}

describe('a Stream-TTL countdown restarted by a request', () => {
  it('is kept by an append in its own record: a POST writes one record, never a touch too', async () => {
    const { url, clock, recordsWrittenBy } = await withTtlStream();
    for (let i = 0; i < 3; i++) {
      clock.now += 5_000;
      const post = () => fetch(url, { method: 'POST', headers: text, body: `m${i}` });
      expect(await recordsWrittenBy(post)).toBe(1);
    }
  });

  it('is kept by a touch record for a read, at most one a second', async () => {
    const { url, clock, recordsWrittenBy } = await withTtlStream();
    const read = () => fetch(`${url}?offset=-1`);
    clock.now += 5_000;
    expect(await recordsWrittenBy(read)).toBe(1);
    clock.now += 500;
    expect(await recordsWrittenBy(read)).toBe(0);
  });
});
