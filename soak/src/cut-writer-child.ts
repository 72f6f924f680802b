/**
 * The writer of the cut-readers phase: opens one log with the BUILT @walnut/wal (small
 * segments, retention by size), appends chained records (each names its LSN and the CRC32C
 * of the record before it, `chain.ts`) and now and then cuts the log with `truncateAfter`.
 * It says `cut <lsn>` on stdout before each cut (the parent counts every LSN said as a cut
 * that may have happened: a kill inside it leaves it to the next writer's open) and
 * `appended <n>` after each durable run of appends. It runs until killed or told `stop` on
 * stdin.
 *
 * Usage: node cut-writer-child.js '<json CutWriterConfig>'
 */
import { crc32c } from '@walnut/codec';
import { isWalError, Wal, WalErrorCode } from '@walnut/wal';
import { chainPayload } from './chain.js';
import { Rng } from './random.js';

export interface CutWriterConfig {
  dir: string;
  segmentSize: number;
  retentionBytes: number;
  /** Chance that a run of appends is followed by a cut. */
  cutChance: number;
  seed: number;
  run: number;
}

const config = JSON.parse(process.argv[2]!) as CutWriterConfig;
setTimeout(() => process.exit(3), 15 * 60_000).unref();
let stopping = false;
process.stdin.on('data', () => {
  stopping = true;
});
process.stdin.on('end', () => {
  stopping = true;
});

// The lock of a writer just SIGKILLed dies with it; a few tries cover the kernel's release.
let wal: Wal | null = null;
for (let attempt = 0; wal === null; attempt++) {
  try {
    wal = await Wal.open(config.dir)
      .segmentSize(config.segmentSize)
      .retention({ maxBytes: config.retentionBytes })
      .build();
  } catch (error) {
    if (!isWalError(error, WalErrorCode.LOCKED) || attempt > 100) throw error;
    await new Promise((r) => setTimeout(r, 20));
  }
}
const log = wal;
const rng = Rng.forCase(config.seed, 'cut-writer', config.run);
/** CRC32C of each recent record's payload, by LSN: the chain goes on from the one kept by a cut. */
const crcs = new Map<bigint, number>();

/**
 * CRC32C of the record at `lsn`, or undefined if it is gone (below the floor) and was not
 * written by this process: a cut must not keep a record the chain cannot go on from, or
 * the next record would name a predecessor no reader was handed.
 */
async function crcOf(lsn: bigint): Promise<number | undefined> {
  const known = crcs.get(lsn);
  if (known !== undefined) return known;
  if (lsn < log.floorLsn) return undefined;
  try {
    for await (const record of log.iterator(lsn)) return crc32c(record.payload);
  } catch (error) {
    // Retention deleted it since the floor was read.
    if (isWalError(error, WalErrorCode.REPLAY_BELOW_FLOOR)) return undefined;
    throw error;
  }
  throw new Error(`the log holds no LSN ${lsn}`);
}

process.stdout.write(`ready ${log.lastLsn}\n`);
// The log keeps its last record (cuts keep at least the floor's, retention the segment
// being written); an empty log is a new one, whose first record follows no other (0).
let prev = log.lastLsn < log.floorLsn ? 0 : await crcOf(log.lastLsn);
if (prev === undefined) throw new Error(`the log's last record ${log.lastLsn} is unreadable`);
while (!stopping) {
  const count = rng.int(1, 40);
  const writes: Promise<bigint>[] = [];
  for (let i = 0; i < count; i++) {
    const lsn = log.lastLsn + 1n;
    const payload = chainPayload(lsn, prev, rng.u32(), rng.int(16, 1500));
    prev = crc32c(payload);
    crcs.set(lsn, prev);
    writes.push(
      log.append(payload).then((got) => {
        if (got !== lsn) throw new Error(`append got LSN ${got}, expected ${lsn}`);
        return got;
      }),
    );
  }
  await Promise.all(writes);
  process.stdout.write(`appended ${count}\n`);
  if (crcs.size > 20_000) for (const lsn of [...crcs.keys()].slice(0, 10_000)) crcs.delete(lsn);
  if (!rng.chance(config.cutChance)) continue;
  const last = log.lastLsn;
  // Not after floor - 1 (which empties the log): a writer started after a kill could not
  // know the CRC of the record the chain goes on from, and would chain from nothing.
  const lowest = log.floorLsn;
  const span = Number(last - lowest < 400n ? last - lowest : 400n);
  const at = last - BigInt(rng.int(0, span));
  // Before the cut: retention may delete the kept record right after it.
  const keptCrc = await crcOf(at);
  if (keptCrc === undefined) continue;
  process.stdout.write(`cut ${at}\n`);
  try {
    await log.truncateAfter(at);
  } catch (error) {
    // Retention may have moved the floor past the LSN picked: no cut happened.
    if (!isWalError(error, WalErrorCode.REPLAY_BELOW_FLOOR)) throw error;
    continue;
  }
  for (const lsn of crcs.keys()) if (lsn > at) crcs.delete(lsn);
  prev = keptCrc;
}
await log.close();
process.exit(0);
