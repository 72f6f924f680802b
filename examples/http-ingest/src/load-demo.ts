/**
 * Shows group commit at work over HTTP: the same server, loaded first by one connection
 * at a time, then by 64. Everything stays on 127.0.0.1, bounded in requests and time.
 * `pnpm --filter @walnut/example-http-ingest load`
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from '@walnut/wal';
import { runLoad } from './load.js';
import { createIngestServer } from './server.js';

const dir = await mkdtemp(join(tmpdir(), 'walnut-http-load-'));
const wal = await Wal.open(dir).build();
const server = createIngestServer(wal);
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
console.log(`server ${url}, backend ${wal.stats().backend.name}\n`);

const rows: string[][] = [];
for (const [connections, amount] of [
  [1, 300],
  [64, 10_000],
] as const) {
  const before = wal.stats();
  const r = await runLoad({ url, connections, amount, maxSeconds: 15 });
  const after = wal.stats();
  const records = after.records - before.records;
  const syncs = after.syncs - before.syncs;
  rows.push([
    String(connections),
    String(r.requests),
    r.requestsPerSecond.toFixed(0),
    `${r.p50Ms} / ${r.p99Ms}`,
    String(syncs),
    (records / Math.max(syncs, 1)).toFixed(1),
    String(r.non2xx + r.errors),
  ]);
}
server.close();
await wal.shutdown();
await rm(dir, { recursive: true, force: true });

const header = [
  'connections',
  'requests',
  'req/s',
  'p50/p99 ms',
  'fsyncs',
  'records/fsync',
  'failed',
];
console.log(header.map((h) => h.padStart(15)).join(''));
for (const row of rows) console.log(row.map((c) => c.padStart(15)).join(''));
console.log(
  '\nEvery 201 was sent after its record was durable; with 64 connections one fsync covers many.',
);
