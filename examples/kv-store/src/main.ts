/**
 * A walk through the durable key-value store: write, restart, snapshot, restart again.
 * Run with `pnpm --filter @walnut/example-kv-store start [dir]`.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KvStore } from './kv-store.js';

const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'walnut-kv-')));
console.log(`store in ${dir}\n`);

let store = await KvStore.open(dir, { snapshotEvery: 5_000, segmentSize: 256 * 1024 });
console.log('opened:', store.stats());

// 64 writers at a time: each set resolves once durable, and group commit shares fsyncs.
const started = performance.now();
const writers = Array.from({ length: 64 }, async (_, w) => {
  for (let i = w; i < 20_000; i += 64) await store.set(`user:${i % 2_000}`, `visits=${i}`);
});
await Promise.all(writers);
await store.delete('user:7');
const ms = performance.now() - started;
console.log(`20,001 durable changes in ${ms.toFixed(0)} ms; user:42 = ${store.get('user:42')}`);
console.log('after writing:', store.stats());
await store.close();

store = await KvStore.open(dir);
console.log('\nreopened (snapshot + replay of the log after it):', store.stats());
console.log(`user:42 = ${store.get('user:42')}, user:7 = ${store.get('user:7')}`);

const { lsn, segmentsDeleted } = await store.snapshot();
console.log(`\nsnapshot at LSN ${lsn}; truncateBefore dropped ${segmentsDeleted} log segment(s)`);
await store.close();

store = await KvStore.open(dir);
console.log('reopened from the snapshot alone:', store.stats());
await store.close();
