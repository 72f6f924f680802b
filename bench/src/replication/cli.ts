import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatReplicationResults, runReplicationBench } from './run.js';

// `pnpm --filter @walnut/bench run bench:replication [--quick]`: needs nats-server
// (apt-get install nats-server, or NATS_SERVER=/path). Prints the table and writes
// results/replication/<date>.{json,md} (a quick run writes results/replication/quick/).
const quick = process.argv.includes('--quick');
const options = quick
  ? { records: 2_000, producers: 64, recordSize: 128, repetitions: 1 }
  : { records: 50_000, producers: 64, recordSize: 128, repetitions: 3 };
const results = await runReplicationBench({
  ...options,
  log: (line) => process.stderr.write(`${line}\n`),
});
const conditions = `Node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'}), ${release()}; load average ${loadavg()
  .map((l) => l.toFixed(1))
  .join(' / ')} at the end of the run.`;
const table = `${formatReplicationResults(results)}\n\n${conditions}`;
process.stdout.write(`${table}\n`);
const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '..', '..', 'results', 'replication', ...(quick ? ['quick'] : []));
mkdirSync(out, { recursive: true });
const date = new Date().toISOString().slice(0, 10);
writeFileSync(join(out, `${date}.json`), `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(
  join(out, `${date}.md`),
  `# Replication benchmark, ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC\n\n${table}\n`,
);
