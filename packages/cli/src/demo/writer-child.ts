/**
 * The writer the demo crashes: it appends from many concurrent producers and reports
 * each acknowledged record ("<lsn> <producer> <seq>") on stdout, until it is SIGKILLed.
 * A line is written only after the append promise resolved, so whatever the parent read
 * was durable when it was sent (stdout writes to a pipe are synchronous on Linux, so a
 * line is in the pipe before the next append can start).
 *
 * Usage: node demo-writer.js <dir> <producers> <recordSize>
 */
import { makePayload } from './payload.js';
import { openWal, walFacts } from './wal-session.js';

const [dir, producersArg, sizeArg] = process.argv.slice(2);
const producers = Number(producersArg);
const recordSize = Number(sizeArg);

const wal = await openWal(dir!);
const facts = walFacts(wal);
process.stdout.write(
  `ready ${JSON.stringify({ backend: facts.backend, reason: facts.backendReason })}\n`,
);

let pending = '';
let pendingLines = 0;
let flushQueued = false;
function flushAcks(): void {
  flushQueued = false;
  if (pendingLines === 0) return;
  const out = pending;
  pending = '';
  pendingLines = 0;
  process.stdout.write(out);
}
function ack(lsn: bigint, producer: number, seq: number): void {
  pending += `${lsn} ${producer} ${seq}\n`;
  // Flush by count as well as on setImmediate: a backend that completes synchronously
  // can keep the microtask queue busy long enough to starve setImmediate.
  if (++pendingLines >= 64) flushAcks();
  else if (!flushQueued) {
    flushQueued = true;
    setImmediate(flushAcks);
  }
}

async function producer(id: number): Promise<void> {
  for (let seq = 0; ; seq++) {
    const lsn = await wal.append(makePayload(id, seq, recordSize));
    ack(lsn, id, seq);
  }
}

await Promise.all(Array.from({ length: producers }, (_, id) => producer(id)));
