// The whole failover in one command: a 3-node nats-server cluster on loopback ports, a
// primary and a follower as two processes with their own directories, the primary killed
// with SIGKILL, the follower taking over, and a check that every order the first primary
// acknowledged is in the new primary's log, byte for byte, LSNs contiguous.
//
//   node src/main.mjs [--dir D] [--run-ms 3000]
//
// Needs nats-server (apt-get install nats-server, or NATS_SERVER=/path/to/it) and the built
// packages (npx -y pnpm@10.34.9 run build). Prints one JSON line per event; exit 0 = verified.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { NatsCluster } from '@walnut/replicate/testing';
import { Wal } from '@walnut/wal';

const { values } = parseArgs({
  options: { dir: { type: 'string' }, 'run-ms': { type: 'string', default: '3000' } },
});
const NODE = fileURLToPath(new URL('./node.mjs', import.meta.url));
const root = values.dir ?? mkdtempSync(join(tmpdir(), 'walnut-failover-'));
mkdirSync(root, { recursive: true });
const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

function start(role, dir, servers) {
  const child = spawn(
    process.execPath,
    [NODE, role, '--dir', dir, '--servers', servers.join(','), '--stream', 'orders'],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const events = [];
  const waiters = [];
  let buffered = '';
  child.stdout.on('data', (chunk) => {
    buffered += chunk;
    for (let at = buffered.indexOf('\n'); at >= 0; at = buffered.indexOf('\n')) {
      const event = JSON.parse(buffered.slice(0, at));
      buffered = buffered.slice(at + 1);
      events.push(event);
      if (event.event !== 'ack') print({ from: role, ...event });
      for (const w of waiters.filter((w) => w.match(event))) w.resolve(event);
    }
  });
  const exited = new Promise((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const waitFor = (match, ms) =>
    new Promise((resolve, reject) => {
      const found = events.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(
        () => reject(new Error(`${role}: no such event within ${ms} ms`)),
        ms,
      );
      waiters.push({
        match,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
      exited.then(({ code }) => reject(new Error(`${role} exited (${code}) before the event`)));
    });
  return { child, events, exited, waitFor };
}

const cluster = await NatsCluster.start({ size: 3 });
let primary;
let follower;
let ok = false;
try {
  print({ event: 'cluster', servers: cluster.servers });
  primary = start('primary', join(root, 'node-a'), cluster.servers);
  await primary.waitFor((e) => e.event === 'primary', 30_000);
  follower = start('follower', join(root, 'node-b'), cluster.servers);
  await follower.waitFor((e) => e.event === 'following', 30_000);
  await new Promise((resolve) => setTimeout(resolve, Number(values['run-ms'])));

  primary.child.kill('SIGKILL');
  await primary.exited;
  const acked = primary.events.filter((e) => e.event === 'ack');
  print({
    event: 'primary-killed',
    acknowledged: acked.length,
    lastAcknowledgedLsn: acked.at(-1)?.lsn,
  });

  await follower.waitFor((e) => e.event === 'promoted', 60_000);
  const done = await follower.waitFor((e) => e.event === 'done', 60_000);
  await follower.exited;

  // Every order the killed primary acknowledged must be in the new primary's log.
  const wal = await Wal.open(join(root, 'node-b')).build();
  const log = new Map();
  let expected = 1n;
  await wal.replay(1n, (r) => {
    if (r.lsn !== expected) throw new Error(`LSN ${r.lsn} where ${expected} was expected`);
    expected++;
    log.set(r.lsn.toString(), r.payload.toString());
  });
  await wal.close();
  const missing = acked.filter(
    (a) =>
      log.get(a.lsn) !==
      JSON.stringify({ node: 'first', order: a.order, amount: (a.order * 37) % 1000 }),
  );
  const second = follower.events.filter((e) => e.event === 'ack').length;
  ok = missing.length === 0 && BigInt(done.lastLsn) === expected - 1n;
  print({
    event: ok ? 'verified' : 'FAILED',
    acknowledgedByFirst: acked.length,
    missing: missing.length,
    appendedBySecond: second,
    records: log.size,
  });
} finally {
  primary?.child.kill('SIGKILL');
  follower?.child.kill('SIGKILL');
  await cluster.stop();
  if (values.dir === undefined) rmSync(root, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
