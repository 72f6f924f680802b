/**
 * The W6 load generator as its own process (forked by `load-process.ts` with an IPC
 * channel): `node load-child.js <url>`. It opens its connections, says `ready`, runs the plan
 * it is sent, answers `done` with the latencies and waits to be stopped.
 */

import { LoadGenerator, type LoadPlan } from './load.js';
import type { LoadMessage } from './load-process.js';

function send(message: LoadMessage): void {
  process.send?.(message);
}

const url = process.argv[2] ?? '';
try {
  const generator = new LoadGenerator(url);
  await generator.warmUp();
  process.once('message', (message: { kind: 'go'; plan: LoadPlan }) => {
    generator.run(message.plan).then(
      (summary) => {
        generator.close();
        send({ kind: 'done', summary });
      },
      (error: Error) => send({ kind: 'failed', error: error.message }),
    );
  });
  // The parent may die without stopping us: leave with it.
  process.once('disconnect', () => process.exit(0));
  send({ kind: 'ready' });
} catch (error) {
  send({ kind: 'failed', error: (error as Error).message });
  process.exit(1);
}
