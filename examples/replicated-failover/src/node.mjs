// One node of a replicated order log, as its own process with its own directory.
//
//   node src/node.mjs primary  --dir D --servers URLS --stream S [--every-ms 5]
//   node src/node.mjs follower --dir D --servers URLS --stream S [--takeover-after-ms 1500]
//
// The primary appends one order every --every-ms (sync mode: each append resolves once the
// order is on its disk AND in the JetStream stream) and prints {"event":"ack",…} per order.
// The follower copies the stream into its own log; when no new record has arrived for
// --takeover-after-ms after the primary had been writing, it promotes itself (a demo failure
// detector: in production an orchestrator decides — and fencing makes a wrong guess safe,
// since a primary that was only slow gets WAL_FENCED instead of forking the log). Promoted,
// it goes on appending orders as the new primary. Output: one JSON line per event.
import { parseArgs } from 'node:util';
import { Follower, ReplicatedWal } from '@walnut/replicate';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string' },
    servers: { type: 'string' },
    stream: { type: 'string', default: 'orders' },
    'every-ms': { type: 'string', default: '5' },
    'takeover-after-ms': { type: 'string', default: '1500' },
    'orders-after-takeover': { type: 'string', default: '100' },
  },
});
const role = positionals[0];
const servers = values.servers.split(',');
const print = (event) =>
  process.stdout.write(
    `${JSON.stringify(event, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`,
  );
const order = (node, i) => Buffer.from(JSON.stringify({ node, order: i, amount: (i * 37) % 1000 }));

async function appendOrders(primary, node, count) {
  const every = Number(values['every-ms']);
  for (let i = 0; count === 0 || i < count; i++) {
    const lsn = await primary.append(order(node, i));
    print({ event: 'ack', node, order: i, lsn });
    if (every > 0) await new Promise((resolve) => setTimeout(resolve, every));
  }
}

if (role === 'primary') {
  const primary = await ReplicatedWal.open(values.dir, {
    servers,
    stream: values.stream,
    mode: 'sync',
    replicas: 3,
  });
  print({
    event: 'primary',
    epoch: primary.epoch,
    lastLsn: primary.lastLsn,
    guarantee: primary.stats().guarantee.acknowledged,
  });
  await appendOrders(primary, 'first', 0); // until killed
} else if (role === 'follower') {
  const follower = await Follower.open(values.dir, { servers, stream: values.stream });
  print({ event: 'following', appliedLsn: follower.appliedLsn });
  const quietMs = Number(values['takeover-after-ms']);
  let last = follower.appliedLsn;
  let quietSince = Date.now();
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    if (follower.appliedLsn !== last) {
      last = follower.appliedLsn;
      quietSince = Date.now();
      continue;
    }
    if (last > 0n && Date.now() - quietSince >= quietMs) break;
  }
  print({ event: 'primary-silent', appliedLsn: follower.appliedLsn, quietMs });
  const primary = await follower.promote({ mode: 'sync' });
  print({ event: 'promoted', epoch: primary.epoch, lastLsn: primary.lastLsn });
  await appendOrders(primary, 'second', Number(values['orders-after-takeover']));
  await primary.close();
  print({ event: 'done', lastLsn: primary.lastLsn });
} else {
  process.stderr.write(
    'usage: node src/node.mjs primary|follower --dir D --servers URLS [--stream S]\n',
  );
  process.exit(2);
}
