/**
 * The W6 load generator as its own process (forked by `load-process.ts` with an IPC
 * channel): `node load-child.js <url>`. It opens its connections, says `ready`, runs each plan
 * it is sent, answers `done` with the latencies of each, and runs until it is stopped.
 */
import { LoadGenerator } from './load.js';
import { type Port, servePlans } from './load-process.js';

try {
  const generator = new LoadGenerator(process.argv[2] ?? '');
  await generator.warmUp();
  process.once('SIGTERM', () => {
    generator.close();
    process.exit(0);
  });
  // The parent may die without stopping us: leave with it.
  process.once('disconnect', () => process.exit(0));
  servePlans(generator, process as Port);
} catch (error) {
  process.send?.({ kind: 'failed', error: (error as Error).message });
  process.exit(1);
}
