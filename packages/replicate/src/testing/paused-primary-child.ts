// A primary in its own process, so the nemesis can SIGSTOP it alone (the nemesis's own
// process holds the other primary and every proxy). Argument: a JSON object (PausedPrimaryArgs).
// Prints one line per event on stdout:
//   ready                    once open
//   a <lsn> <i>              append i was acknowledged with this LSN
//   f <code>                 an append was refused with this code
//   s <reseeds> <staleReads> <stepDowns> <diverged 0|1>   on SIGTERM, after the producers stopped
import { isWalError } from '@walnut/wal';
import { ReplicatedWal } from '../primary/replicated-wal.js';
import { sleep } from './nats-cluster.js';
import { nemesisPayload } from './nemesis-payload.js';
import type { PausedPrimaryArgs } from './paused-primary.js';

const args = JSON.parse(process.argv[2]!) as PausedPrimaryArgs;
let stopping = false;
// A nemesis that died leaves no producer behind: its pipe closes under the next write.
process.stdout.on('error', () => process.exit(1));
process.once('SIGTERM', () => {
  stopping = true;
});

const primary = await ReplicatedWal.open(args.dir, {
  servers: [...args.servers],
  stream: args.stream,
  replicas: 3,
  mode: 'sync',
  requestTimeoutMs: 2_000,
  replicationTimeoutMs: 60_000,
});
process.stdout.write('ready\n');
let next = 0;
const began = performance.now();
await Promise.all(
  Array.from({ length: args.producers }, async () => {
    while (!stopping) {
      const i = next++;
      const due = began + (i * 1000) / args.appendsPerSecond - performance.now();
      if (due > 0) await sleep(due);
      try {
        const lsn = await primary.append(nemesisPayload(i, args.recordSize));
        process.stdout.write(`a ${lsn} ${i}\n`);
      } catch (error) {
        process.stdout.write(`f ${isWalError(error) ? error.code : 'other'}\n`);
        if (isWalError(error, 'WAL_DIVERGED') || isWalError(error, 'WAL_FENCED')) return;
        await sleep(50);
      }
    }
  }),
);
const shipper = primary.stats().shipper;
process.stdout.write(
  `s ${shipper.reseeds} ${shipper.staleReads} ${shipper.stepDowns} ${shipper.diverged === null ? 0 : 1}\n`,
);
await primary.close();
