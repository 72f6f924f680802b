/**
 * The writer the SIGKILL phase kills: opens one log with the BUILT @walnut/wal (durability
 * 'sync', the default), runs `producers` concurrent producers that each await `append`, and
 * reports every acknowledged record on stdout as "<lsn> <producer> <seq> <crc32c>". A pipe
 * is written synchronously on Linux, so a line is in the pipe before its producer appends
 * again; the parent counts a record as acknowledged only once it has read its line.
 *
 * Usage: node kill-child.js '<json ChildConfig>'
 */
import { crc32c } from '@walnut/codec';
import { Wal } from '@walnut/wal';
import { soakKeyRing } from './keys.js';
import { makePayload } from './payload.js';
import { Rng } from './random.js';

export interface ChildConfig {
  dir: string;
  epoch: number;
  producers: number;
  backend: 'io_uring' | 'sync-fs';
  directIo: boolean;
  encrypted: boolean;
  segmentSize: number;
  minSize: number;
  maxSize: number;
  seed: number;
}

const config = JSON.parse(process.argv[2]!) as ChildConfig;
// An orphan never outlives its parent by long.
setTimeout(() => process.exit(3), 60_000).unref();

let builder = Wal.open(config.dir)
  .storageIo(config.backend)
  .segmentSize(config.segmentSize)
  .directIo(config.directIo);
if (config.encrypted) builder = builder.encryption(soakKeyRing());
const wal = await builder.build();
process.stdout.write(`ready ${wal.stats().backend.name} ${wal.lastLsn}\n`);

async function produce(producer: number): Promise<void> {
  const rng = Rng.forCase(config.seed, 'producer', producer);
  for (let seq = 0; ; seq++) {
    const payload = makePayload(
      { epoch: config.epoch, producer, seq },
      rng.int(config.minSize, config.maxSize),
    );
    const lsn = await wal.append(payload);
    process.stdout.write(`${lsn} ${producer} ${seq} ${crc32c(payload)}\n`);
  }
}

await Promise.all(
  Array.from({ length: config.producers }, (_, p) =>
    produce(p).catch((error) => {
      process.stderr.write(`producer ${p}: ${error?.code ?? ''} ${error?.message ?? error}\n`);
      process.exit(1);
    }),
  ),
);
