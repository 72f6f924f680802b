import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WalErrorCode, type WalRecord, zstdImplementation } from '@walnut/codec';
import { compressedLog, compressedLogEvent, compressedLogRecords } from '@walnut/codec/testing';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

const root = tempDir('walnut-compressed-');
afterAll(removeTempDirs);
let dirs = 0;
const canWrite = zstdImplementation().encoder !== null;
const WRITE_SKIP = `writing zstd needs Node 22.15 or later, this is Node ${process.versions.node}`;

/** A copy of the golden compressed log (written on Node 22), readable on every runtime. */
function goldenDir(): string {
  const dir = join(root, `golden-${dirs++}`);
  mkdirSync(dir);
  const { name, bytes } = compressedLog();
  writeFileSync(join(dir, name), bytes);
  return dir;
}

const expected = () => compressedLogRecords().map((r) => [r.lsn, r.payload.toString()]);
const seen = (records: WalRecord[]) => records.map((r) => [r.lsn, r.payload.toString()]);

async function take(iterable: AsyncIterable<WalRecord>, count: number): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const record of iterable) {
    out.push(record);
    if (out.length === count) break;
  }
  return out;
}

describe(`a compressed log read by a Wal (decoder ${zstdImplementation().decoder})`, () => {
  it('replays, iterates and tails every record; payloads stay valid after the read', async () => {
    const wal = await Wal.open(goldenDir()).readOnly();
    const replayed: WalRecord[] = [];
    await wal.replay(1n, (r) => {
      replayed.push(r);
    });
    expect(seen(replayed)).toEqual(expected());
    expect(replayed[20]!.meta?.toString()).toBe('meta of 21');
    expect(replayed[22]!.tenantId).toBe(7n);
    expect(seen(await take(wal.iterator(5n), 28))).toEqual(expected().slice(4));
    expect(seen(await take(wal.tail(30n), 3))).toEqual(expected().slice(29));
    expect((await wal.segments())[0]!.compressed).toBe(true);
    await wal.close();
  });

  it('reads through a durable cursor, and a writer without compression appends after it', async () => {
    const dir = goldenDir();
    const wal = await Wal.open(dir);
    const cursor = await wal.cursor('reader');
    const first = await take(cursor.records(), 21);
    expect(seen(first)).toEqual(expected().slice(0, 21));
    await cursor.commit(21n);
    expect(await wal.append(Buffer.from('after'))).toBe(33n);
    const rest = await take(cursor.records(), 12);
    expect(seen(rest)).toEqual([...expected().slice(21), [33n, 'after']]);
    await cursor.close();
    await wal.close();
  });
});

describe.skipIf(!canWrite)(
  `Wal.open(dir).compression('zstd') (${canWrite ? 'writes' : WRITE_SKIP})`,
  () => {
    it('writes compressed frames every reader reads back after reopening', async () => {
      const dir = join(root, `written-${dirs++}`);
      const wal = await Wal.open(dir).compression('zstd', 5);
      const payloads = Array.from({ length: 200 }, (_, i) => compressedLogEvent(i));
      await wal.appendMany(payloads);
      await wal.appendRecord({ payload: compressedLogEvent(200), meta: Buffer.from('m') });
      await wal.close();
      const again = await Wal.open(dir).compression('zstd');
      const replayed: string[] = [];
      await again.replay(1n, (r) => {
        replayed.push(r.payload.toString());
      });
      expect(replayed).toEqual([...payloads, compressedLogEvent(200)].map(String));
      const segment = (await again.segments())[0]!;
      expect(segment.compressed).toBe(true);
      expect(segment.writtenBytes).toBeLessThan(payloads.reduce((n, p) => n + p.length, 0) / 2);
      await again.close();
    });
  },
);

describe.skipIf(!canWrite)(
  `a tail beside a compressing writer (${canWrite ? 'writes' : WRITE_SKIP})`,
  () => {
    it('follows compressed frames as they are appended, in this process and read-only beside it', async () => {
      const dir = join(root, `tailed-${dirs++}`);
      const wal = await Wal.open(dir).compression('zstd').durability('none');
      await wal.appendMany(Array.from({ length: 50 }, (_, i) => compressedLogEvent(i)));
      await wal.sync();
      const reader = await Wal.open(dir).readOnly();
      const mine = take(wal.tail(1n), 120);
      const beside = take(reader.tail(1n), 120);
      await wal.appendMany(Array.from({ length: 70 }, (_, i) => compressedLogEvent(50 + i)));
      await wal.sync();
      const want = Array.from({ length: 120 }, (_, i) => compressedLogEvent(i).toString());
      expect((await mine).map((r) => r.payload.toString())).toEqual(want);
      expect((await beside).map((r) => r.payload.toString())).toEqual(want);
      await reader.close();
      await wal.close();
    });
  },
);

describe('the compression option', () => {
  it('names what is accepted for a bad codec or level, when it is set', () => {
    const codec = expectWalError(
      () => Wal.open('/nowhere').compression('lz4' as 'zstd'),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(codec.message).toContain("'zstd'");
    const level = expectWalError(
      () => Wal.open('/nowhere').options({ compression: { codec: 'zstd', level: 0 } }),
      WalErrorCode.BAD_ARGUMENT,
    );
    expect(level.message).toContain('1..19');
  });

  it.skipIf(!canWrite)('is a writer option: refused beside readOnly', async () => {
    await expectWalError(
      Wal.open(goldenDir()).readOnly().compression('zstd').build(),
      WalErrorCode.BAD_ARGUMENT,
    );
  });

  it.skipIf(canWrite)(
    'on a runtime without zstd, is WAL_BACKEND_UNAVAILABLE naming Node 22.15',
    () => {
      const err = expectWalError(
        () => Wal.open('/nowhere').compression('zstd'),
        WalErrorCode.BACKEND_UNAVAILABLE,
      );
      expect(err.message).toContain('Node 22.15');
    },
  );
});
