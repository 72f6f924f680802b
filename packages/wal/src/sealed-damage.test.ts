import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isWalError, type WalRecord } from '@walnut/codec';
import { MmapWalReader } from '@walnut/mmap-reader';
import { payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

// Opening reads only the newest segment (decision 0311): each way of reading the log is the
// check of the sealed ones, and stops at damage before the damaged record or any later one.

const root = tempDir('walnut-sealed-damage-');
afterAll(removeTempDirs);
let logs = 0;

const TOTAL = 2_000;
/** The frame of the second segment that each case damages. */
const NTH = 10;

const payloadOf = (lsn: bigint) => payloadFor(lsn, 100 + Number(lsn % 57n));

/** A closed log of TOTAL records in 64 KiB segments; its second segment and the NTH frame's offset. */
async function closedLog() {
  const dir = join(root, `log-${logs++}`);
  const wal = await Wal.open(dir)
    .segmentSize(64 * 1024)
    .durability('none')
    .build();
  for (let i = 1n; i <= BigInt(TOTAL); i++) wal.appendQueued(payloadOf(i));
  await wal.close();
  const names = readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .sort();
  expect(names.length).toBeGreaterThan(3);
  const victim = join(dir, names[1]!);
  const reader = MmapWalReader.open(victim);
  const firstLsn = reader.header!.firstLsn;
  for (let i = 0; i < NTH; i++) reader.nextRecord();
  const frame = reader.offset;
  reader.nextRecord();
  const frameEnd = reader.offset;
  reader.close();
  return { dir, victim, frame, frameEnd, damagedLsn: firstLsn + BigInt(NTH) };
}

type Damage = (bytes: Buffer, frame: number, frameEnd: number) => Buffer;

const damages: [string, Damage][] = [
  [
    'a flipped byte',
    (bytes, frame) => {
      bytes[frame + 30]! ^= 0x10;
      return bytes;
    },
  ],
  [
    'a zeroed run',
    (bytes, frame, frameEnd) => bytes.fill(0, frame, frame + 3 * (frameEnd - frame)),
  ],
  ['a truncation inside a frame', (bytes, frame) => bytes.subarray(0, frame + 20)],
  ['a truncation at a frame boundary', (bytes, frame) => bytes.subarray(0, frame)],
];

type Reading = (wal: Wal, take: (record: WalRecord) => boolean) => Promise<void>;

const readings: [string, Reading][] = [
  [
    'replay()',
    async (wal, take) => {
      await wal.replay(1n, (record) => void take(record));
    },
  ],
  [
    'iterator()',
    async (wal, take) => {
      for await (const record of wal.iterator(1n)) if (!take(record)) break;
    },
  ],
  [
    'tail()',
    async (wal, take) => {
      // A tail waits for more at the end; every record is there, so it stops at the last.
      for await (const record of wal.tail(1n)) if (!take(record)) break;
    },
  ],
];

describe.each(damages)('%s in a sealed segment', (_name, damage) => {
  async function damagedLog() {
    const log = await closedLog();
    writeFileSync(
      log.victim,
      damage(Buffer.from(readFileSync(log.victim)), log.frame, log.frameEnd),
    );
    return log;
  }

  it.each(readings)(
    'is WAL_CORRUPT from %s, with segment and offset, before the damaged record',
    async (_reader, read) => {
      const { dir, victim, frame, damagedLsn } = await damagedLog();
      const wal = await Wal.open(dir).build();
      try {
        let next = 1n;
        const error = await read(wal, (record) => {
          expect(record.lsn).toBe(next);
          expect(record.payload.equals(payloadOf(next))).toBe(true);
          next++;
          return next <= BigInt(TOTAL);
        }).catch((err: unknown) => err);
        expect(isWalError(error) ? error.code : error).toBe('WAL_CORRUPT');
        expect((error as { details: unknown }).details).toMatchObject({
          segment: victim,
          offset: frame,
        });
        expect(next).toBeLessThanOrEqual(damagedLsn);
      } finally {
        await wal.close();
      }
    },
  );

  it("is refused at open with verify('all')", async () => {
    const { dir, victim } = await damagedLog();
    const error = await Wal.open(dir)
      .verify('all')
      .build()
      .then(
        (wal) => wal.close().then(() => 'opened'),
        (err: unknown) => err,
      );
    expect(['WAL_CORRUPT', 'WAL_MISSING_SEGMENT']).toContain(
      isWalError(error) ? error.code : error,
    );
    expect((error as Error).message).toContain(victim);
  });
});
