/**
 * Starts the ingest server on 127.0.0.1.
 * `pnpm --filter @walnut/example-http-ingest start [dir]` (PORT=8080 by default).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Wal } from '@walnut/wal';
import { createIngestServer } from './server.js';

const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'walnut-http-')));
const port = Number(process.env.PORT ?? 8080);
const wal = await Wal.open(dir).build();
const server = createIngestServer(wal);
server.listen(port, '127.0.0.1', () => {
  console.log(`log in ${dir} (backend ${wal.stats().backend.name})`);
  console.log(`listening on http://127.0.0.1:${port}`);
  console.log(`  curl -d 'hello' http://127.0.0.1:${port}/records   → {"lsn":"1"}`);
  console.log(`  curl http://127.0.0.1:${port}/stats`);
  console.log('Ctrl-C stops it (the log is shut down cleanly).');
});
process.once('SIGINT', () => {
  server.close();
  server.closeAllConnections();
  wal
    .shutdown(10_000)
    .then(() => console.log(`\nstopped; ${wal.stats().records} records in ${dir}`));
});
