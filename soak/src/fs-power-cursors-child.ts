/**
 * The child of fs-power-cursors.ts, run on a crashfs mount with the BUILT packages: opens
 * the log read-only (a consumer beside a writer), prints `ready`, opens the durable cursors and commits each one 60 times, further into the log each time — awaiting
 * every commit, or committing without awaiting and awaiting every 6th, as the cursor's
 * seeded coin says. Per cursor it prints `open NAME LSN` once the cursor is open, `try NAME
 * LSN` before each commit call and `ack NAME LSN` when a commit resolved (with the LSN
 * written), each written synchronously to a pipe before the next step. When the power cut
 * strikes, its next operation fails (EIO) and the child ends with what it had acknowledged.
 *
 * Usage: node fs-power-cursors-child.js '<json CursorsConfig>'
 */
import { Wal } from '@walnut/wal';
import { CURSOR_NAMES, type CursorsConfig } from './fs-power-cursors-config.js';
import { Rng } from './random.js';

const COMMITS = 60;

const config = JSON.parse(process.argv[2]!) as CursorsConfig;
setTimeout(() => process.exit(3), 60_000).unref();
const say = (line: string) => process.stdout.write(`${line}\n`);
const ignore = () => undefined;

const wal = await Wal.open(config.dir).readOnly().storageIo(config.backend).build();
say('ready');
await Promise.all(
  CURSOR_NAMES.map(async (name) => {
    const rng = Rng.forCase(config.seed, `fs-cursor-${name}`, config.cycle);
    const cursor = await wal.cursor(name);
    say(`open ${name} ${cursor.lsn}`);
    const pipelined = rng.chance(0.5);
    let at = rng.int(0, 1000);
    let last: Promise<unknown> = Promise.resolve();
    for (let i = 0; i < COMMITS; i++) {
      at += rng.int(1, 15);
      say(`try ${name} ${at}`);
      last = cursor.commit(BigInt(at)).then((written) => say(`ack ${name} ${written}`));
      if (!pipelined || i % 6 === 5) await last;
      else last.catch(ignore);
    }
    await last;
  }),
);
await wal.close();
say('done');
