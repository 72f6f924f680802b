/**
 * One Durable Streams server in a process of its own, for the serve bench and its crash
 * cycles: `node server-child.js walnut|reference DIR` prints `listening URL`, then
 * serves until SIGTERM (drains, exits 0) or SIGKILL. `walnut` is `@walnut/serve` with its
 * defaults (durability 'sync'); `reference` is `@durable-streams/server`'s file store
 * (`DurableStreamTestServer` with `dataDir`).
 */
import { serve } from '@walnut/serve';

const [contender, dir] = process.argv.slice(2);
if (dir === undefined || (contender !== 'walnut' && contender !== 'reference')) {
  process.stderr.write('usage: server-child.js walnut|reference DIR\n');
  process.exit(2);
}

let stop: () => Promise<void>;
let url: string;
if (contender === 'walnut') {
  const server = await serve(dir);
  url = server.url;
  stop = () => server.close();
} else {
  const { DurableStreamTestServer } = await import('@durable-streams/server');
  const server = new DurableStreamTestServer({
    host: '127.0.0.1',
    port: 0,
    dataDir: dir,
    compression: false,
  });
  url = (await server.start()).replace(/\/$/, '');
  stop = () => server.stop();
}
// Marked: the reference server logs to standard output too.
process.stdout.write(`listening ${url}\n`);
process.once('SIGTERM', () => {
  stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
