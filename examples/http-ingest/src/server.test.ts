import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from '@walnut/wal';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runLoad } from './load.js';
import { createIngestServer } from './server.js';

let dir: string;
let wal: Wal;
let server: Server;
let url: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'walnut-http-test-'));
  wal = await Wal.open(dir).build();
  server = createIngestServer(wal, { maxBodyBytes: 1024 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterEach(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await wal.close();
  await rm(dir, { recursive: true, force: true });
});

describe('http-ingest server', () => {
  it('answers each POST with the LSN of its now-durable record', async () => {
    const first = await fetch(new URL('/records', url), { method: 'POST', body: 'hello' });
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ lsn: '1' });
    const second = await fetch(new URL('/records', url), { method: 'POST', body: 'world' });
    expect(await second.json()).toEqual({ lsn: '2' });
    expect(wal.durableLsn).toBeGreaterThanOrEqual(2n);
    const seen: string[] = [];
    await wal.replay(1n, (r) => {
      seen.push(r.payload.toString());
    });
    expect(seen).toEqual(['hello', 'world']);
  });

  it('rejects a body over the limit with 413 and appends nothing', async () => {
    const r = await fetch(new URL('/records', url), { method: 'POST', body: 'x'.repeat(2000) });
    expect(r.status).toBe(413);
    expect(wal.stats().records).toBe(0);
  });

  it('answers 404 elsewhere', async () => {
    expect((await fetch(new URL('/nope', url))).status).toBe(404);
  });

  it('answers 503 with the WalError code once the log is closed', async () => {
    await wal.close();
    const r = await fetch(new URL('/records', url), { method: 'POST', body: 'late' });
    expect(r.status).toBe(503);
    expect(((await r.json()) as { error: string }).error).toBe('WAL_CLOSED');
  });

  it('under a small concurrent load, every request is durable and fsyncs are shared', async () => {
    const r = await runLoad({ url, connections: 16, amount: 400, maxSeconds: 20, bodyBytes: 64 });
    expect(r.non2xx + r.errors).toBe(0);
    expect(r.requests).toBe(400);
    const stats = (await (await fetch(new URL('/stats', url))).json()) as {
      records: number;
      syncs: number;
      durableLsn: string;
    };
    expect(stats.records).toBe(400);
    expect(stats.syncs).toBeLessThan(400);
    expect(BigInt(stats.durableLsn)).toBe(400n);
  });

  it('refuses to send load anywhere but this machine', async () => {
    await expect(
      runLoad({ url: 'http://10.0.0.1:80/', connections: 1, amount: 1, maxSeconds: 1 }),
    ).rejects.toThrow(/refusing/);
  });
});
