/**
 * `pnpm --filter @walnut/example-job-queue start [dir]`: the queue walk-through (see
 * README.md), in a fresh temporary directory unless one is given.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runQueue } from './run.js';

const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'walnut-job-queue-')));
console.log(`job queue in ${dir}`);
const result = await runQueue({ dir, jobs: 3_000, killEmailAfter: 800, log: console.log });
for (const [name, c] of Object.entries(result.consumers)) {
  console.log(
    `${name}: ran ${c.distinct} distinct jobs (${c.repeated.length} run again after the crash), ${c.missing.length} never run`,
  );
}
const p = result.producer;
console.log(
  `retention: ${p.segmentsDeleted} segments (${p.bytesDeleted} bytes) deleted; ${p.segments} segments, ${p.diskBytes} bytes left; floor LSN ${p.floorLsn} of ${p.lastLsn}`,
);
console.log(`inspect it: walnut cursors ${dir}; walnut inspect ${dir}`);
const ok = Object.values(result.consumers).every((c) => c.missing.length === 0);
process.exitCode = ok ? 0 : 1;
