/**
 * One step of the file-system power-loss phase, run on a crashfs mount with the BUILT
 * packages: it prints `ready` once the step's files are open, one line per acknowledgement
 * (written synchronously to a pipe, so a line is out before the next operation starts),
 * then `done`. When the power cut strikes, the step's next operation fails (EIO) and the
 * child ends with whatever it had acknowledged.
 *
 * Usage: node fs-power-child.js '<json StepConfig>'
 */
import { crc32c } from '@walnut/codec';
import { PerCoreWalManager } from '@walnut/percore';
import { readLocalState, writeLocalState } from '@walnut/replicate/testing';
import { createStorageIo } from '@walnut/storage-io';
import { Wal } from '@walnut/wal';
import { makePayload } from './payload.js';
import { Rng } from './random.js';

export type Step = 'append' | 'truncate' | 'cursor' | 'salvage' | 'percore' | 'replication';

export interface StepConfig {
  step: Step;
  dir: string;
  backend: 'io_uring' | 'sync-fs';
  /** Names this step's records (payload epoch, checkpoint id, replication epoch). */
  epoch: number;
  seed: number;
  /** append: how many records; percore: puts per core. */
  records: number;
  segmentSize: number;
  /** truncate: the LSN to truncate before. */
  floor?: number;
}

const config = JSON.parse(process.argv[2]!) as StepConfig;
setTimeout(() => process.exit(3), 60_000).unref();
const say = (line: string) => process.stdout.write(`${line}\n`);

function openWal(recovery: 'truncate-tail' | 'salvage' = 'truncate-tail'): Promise<Wal> {
  return Wal.open(config.dir)
    .storageIo(config.backend)
    .segmentSize(config.segmentSize)
    .recovery(recovery)
    .build();
}

async function append(): Promise<void> {
  const wal = await openWal();
  say('ready');
  const rng = Rng.forCase(config.seed, 'fs-append', config.epoch);
  const producers = 4;
  let next = 0;
  await Promise.all(
    Array.from({ length: producers }, async (_, producer) => {
      for (let seq = 0; next < config.records; seq++, next++) {
        const payload = makePayload({ epoch: config.epoch, producer, seq }, rng.int(20, 3000));
        const lsn = await wal.append(payload);
        say(`ack ${lsn} ${crc32c(payload)}`);
      }
    }),
  );
  await wal.close();
}

async function truncate(): Promise<void> {
  const wal = await openWal();
  say('ready');
  await wal.truncateBefore(BigInt(config.floor!));
  say(`floor ${config.floor}`);
  await wal.close();
}

/** Commits durable cursor `fs-power` a few times, further into the log each time. */
async function cursor(): Promise<void> {
  const wal = await openWal();
  say('ready');
  const rng = Rng.forCase(config.seed, 'fs-cursor', config.epoch);
  const c = await wal.cursor('fs-power');
  const last = Number(wal.lastLsn);
  let at = Math.max(Number(c.lsn), Number(wal.floorLsn) - 1);
  for (let i = 0; i < 4 && at < last; i++) {
    at = rng.int(at + 1, last);
    await c.commit(BigInt(at));
    say(`cursor ${at}`);
  }
  await c.close();
  await wal.close();
}

async function salvage(): Promise<void> {
  const wal = await openWal('salvage');
  say('ready');
  await wal.close();
}

/** Puts on every core, a sync, their acknowledgements, then checkpoint `epoch`. */
async function percore(): Promise<void> {
  const io = createStorageIo({ backend: config.backend });
  const numCores = 2;
  const manager =
    config.epoch === 0
      ? await PerCoreWalManager.create({ baseDir: config.dir, numCores, io })
      : await PerCoreWalManager.open({ baseDir: config.dir, numCores, io });
  say('ready');
  const rng = Rng.forCase(config.seed, 'fs-percore', config.epoch);
  const puts: string[] = [];
  for (let core = 0; core < numCores; core++) {
    const writer = manager.writer(core);
    for (let i = 0; i < config.records; i++) {
      const key = `${config.epoch}/${core}/${i}`;
      const value = makePayload({ epoch: config.epoch, producer: core, seq: i }, rng.int(20, 500));
      writer.appendPut(Buffer.from(key), value);
      puts.push(`put ${key} ${crc32c(value)}`);
    }
    await writer.sync();
  }
  for (const put of puts) say(put);
  await manager.checkpoint(BigInt(config.epoch + 1));
  say(`checkpoint ${config.epoch + 1}`);
  await manager.close();
  await io.closeIo();
}

function replication(): void {
  const before = readLocalState(config.dir);
  say('ready');
  const state = before ?? {
    version: 1 as const,
    stream: 'fs-power',
    id: 'crash-test',
    role: 'primary' as const,
    epoch: 0,
  };
  writeLocalState(config.dir, { ...state, epoch: config.epoch });
  say(`epoch ${config.epoch}`);
}

try {
  if (config.step === 'append') await append();
  else if (config.step === 'truncate') await truncate();
  else if (config.step === 'cursor') await cursor();
  else if (config.step === 'salvage') await salvage();
  else if (config.step === 'percore') await percore();
  else replication();
  say('done');
  process.exit(0);
} catch (error) {
  const e = error as { code?: string; message?: string };
  process.stderr.write(`${config.step}: ${e.code ?? ''} ${e.message ?? String(error)}\n`);
  process.exit(1);
}
