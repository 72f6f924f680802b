/**
 * The process the crash test kills: it sets `key-<i>` = `value-<i>` from 32 concurrent
 * writers, snapshotting often, and prints "<i>" for each change once it is durable and
 * "snapshot <lsn>" after each snapshot.
 * Usage: node --import tsx src/crash-writer.ts <dir>
 */
import { KvStore } from './kv-store.js';

const store = await KvStore.open(process.argv[2]!, {
  snapshotEvery: 500,
  segmentSize: 64 * 1024,
  onSnapshot: (lsn) => process.stdout.write(`snapshot ${lsn}\n`),
});
process.stdout.write('ready\n');
let next = 0;
await Promise.all(
  Array.from({ length: 32 }, async () => {
    for (;;) {
      const i = next++;
      await store.set(`key-${i}`, `value-${i}`);
      process.stdout.write(`${i}\n`);
    }
  }),
);
