import { closeSync, cpSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@walnut/codec';
import { Wal } from '@walnut/wal';
import { makePayload } from './payload.js';
import { Rng } from './random.js';

/**
 * Writes a log of several segments into `dir`, damages the middle of its second segment,
 * and returns what an uninterrupted salvage of it keeps (LSN → CRC32C of the payload): the
 * reference a salvage cut short by a power loss, then run again, must match.
 */
export async function damageSegment(dir: string, seed: number): Promise<Map<number, number>> {
  rmSync(dir, { recursive: true, force: true });
  const rng = Rng.forCase(seed, 'salvage-template', 0);
  const wal = await Wal.open(dir)
    .storageIo('sync-fs')
    .segmentSize(64 * 1024)
    .build();
  for (let seq = 0; seq < 400; seq++) {
    await wal.append(makePayload({ epoch: 0, producer: 0, seq }, rng.int(200, 800)));
  }
  await wal.close();
  const segments = readdirSync(dir)
    .filter((name) => /^\d+\.wal$/.test(name))
    .sort();
  if (segments.length < 3) throw new Error(`the salvage template has ${segments.length} segments`);
  const victim = join(dir, segments[1]!);
  const fd = openSync(victim, 'r+');
  try {
    writeSync(fd, rng.bytes(64), 0, 64, Math.floor(statSync(victim).size / 2));
  } finally {
    closeSync(fd);
  }
  const reference = `${dir}-reference`;
  rmSync(reference, { recursive: true, force: true });
  cpSync(dir, reference, { recursive: true });
  const salvaged = new Map<number, number>();
  const copy = await Wal.open(reference).storageIo('sync-fs').recovery('salvage').build();
  try {
    await copy.replay(copy.floorLsn, (record) => {
      salvaged.set(Number(record.lsn), crc32c(record.payload));
    });
  } finally {
    await copy.close();
  }
  rmSync(reference, { recursive: true, force: true });
  return salvaged;
}
