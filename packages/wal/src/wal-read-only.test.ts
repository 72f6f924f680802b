import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WalRecord } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Batch } from './batch.js';
import { Wal } from './wal.js';

const root = tempDir('walnut-wal-read-only-');
afterAll(removeTempDirs);
let dirs = 0;
const freshDir = () => join(root, `log-${dirs++}`);

async function appendUpTo(wal: Wal, last: bigint): Promise<void> {
  while (wal.lastLsn < last) await wal.append(payloadFor(wal.lastLsn + 1n));
}

async function lsnsOf(wal: Wal, from = 1n): Promise<bigint[]> {
  const lsns: bigint[] = [];
  for await (const record of wal.iterator(from)) {
    expect(Buffer.compare(record.payload, payloadFor(record.lsn))).toBe(0);
    lsns.push(record.lsn);
  }
  return lsns;
}

const upTo = (from: bigint, to: bigint) =>
  Array.from({ length: Number(to - from + 1n) }, (_, i) => from + BigInt(i));

/** Every file of `dir` and a hash of its bytes. */
function snapshot(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir).map((name) => [
      name,
      createHash('sha256')
        .update(readFileSync(join(dir, name)))
        .digest('hex'),
    ]),
  );
}

describe('Wal.open(dir).readOnly()', () => {
  it('opens beside a live writer in this process, reads what it wrote, and refuses every write', async () => {
    const dir = freshDir();
    const writer = await Wal.open(dir).segmentSize(4096).build();
    await appendUpTo(writer, 100n);
    const reader = await Wal.open(dir).readOnly().build();
    expect(reader.readOnly).toBe(true);
    expect(await lsnsOf(reader)).toEqual(upTo(1n, 100n));

    for (const refused of [
      () => reader.append(Buffer.from('no')),
      () => reader.appendBatch(new Batch().add(Buffer.from('no'))),
      () => reader.appendRecord({ payload: Buffer.from('no') }),
      () => reader.flush(),
      () => reader.sync(),
      () => reader.truncateBefore(50n),
    ]) {
      await expectWalError(refused(), 'WAL_READ_ONLY');
    }
    expectWalError(() => reader.appendQueued(Buffer.from('no')), 'WAL_READ_ONLY');

    // What the writer appends later, the reader's next replay includes.
    await appendUpTo(writer, 150n);
    expect(await lsnsOf(reader, 120n)).toEqual(upTo(120n, 150n));
    expect(reader.lastLsn).toBe(150n);
    expect((await reader.segments()).map((s) => s.path)).toEqual(
      (await writer.segments()).map((s) => s.path),
    );
    expect(reader.stats()).toMatchObject({ readOnly: true, lastLsn: 150n, appends: 0 });
    await reader.shutdown();
    expect(reader.state).toBe('closed');
    await writer.close();
  });

  for (const backend of ['sync-fs', 'io_uring'] as const) {
    it(`opens beside a ${backend} writer with appends in flight and reads a whole prefix, every time`, async () => {
      const dir = freshDir();
      const writer = await Wal.open(dir).storageIo(backend).build();
      let stop = false;
      const deadline = Date.now() + 20_000;
      // Bounded in count and time; each producer awaits its append (durability 'sync').
      const producers = Array.from({ length: 8 }, async () => {
        while (!stop && writer.lastLsn < 100_000n && Date.now() < deadline) {
          await writer.append(payloadFor(writer.lastLsn + 1n));
        }
      });
      try {
        for (let open = 0; open < 15; open++) {
          const reader = await Wal.open(dir).readOnly().build();
          const lsns = await lsnsOf(reader);
          expect(lsns).toEqual(upTo(1n, BigInt(lsns.length)));
          await reader.close();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      } finally {
        stop = true;
        await Promise.all(producers);
        await writer.close();
      }
    });
  }

  it('changes nothing on disk, not even a torn tail, which it reports', async () => {
    const dir = freshDir();
    const writer = await Wal.open(dir).build();
    await appendUpTo(writer, 20n);
    await writer.close();
    const last = readdirSync(dir)
      .filter((name) => name.endsWith('.wal'))
      .sort()
      .at(-1)!;
    appendFileSync(join(dir, last), Buffer.from([9, 0, 0, 0, 1, 2, 3]));
    const before = snapshot(dir);
    const reader = await Wal.open(dir).readOnly().build();
    expect(await lsnsOf(reader)).toEqual(upTo(1n, 20n));
    const tail = reader.tail(1n);
    expect((await tail.next()).value?.lsn).toBe(1n);
    await tail.return?.();
    await reader.close();
    expect(snapshot(dir)).toEqual(before);
  });

  it('refuses the options only a writer uses, naming them', async () => {
    expect(
      await expectWalError(
        Wal.open(freshDir()).durability('none').segmentSize(8192).readOnly().build(),
        'WAL_BAD_ARGUMENT',
      ),
    ).toMatchObject({
      message: expect.stringContaining('segmentSize, durability are for a writer'),
    });
    expectWalError(
      () => Wal.open(freshDir()).options({ readOnly: 'yes' as never }),
      'WAL_BAD_ARGUMENT',
    );
  });

  it('a second writer is told to open read-only, and how', async () => {
    const dir = freshDir();
    const writer = await Wal.open(dir).build();
    expect(await expectWalError(Wal.open(dir).build(), 'WAL_LOCKED')).toMatchObject({
      message: expect.stringContaining(`Wal.open(${JSON.stringify(dir)}).readOnly().build()`),
    });
    const reader = await Wal.open(dir).readOnly().build();
    await reader.close();
    await writer.close();
  });

  it('tail() follows a writer in this process across rollovers and truncations', async () => {
    const io = new MemoryStorageIo();
    const writer = await Wal.open('/log').storageIo(io).segmentSize(4096).build();
    await appendUpTo(writer, 10n);
    const reader = await Wal.open('/log').storageIo(io).readOnly().build();
    const seen: bigint[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const record of reader.tail(1n, { signal: abort.signal })) {
        expect(Buffer.compare(record.payload, payloadFor(record.lsn))).toBe(0);
        seen.push(record.lsn);
      }
    })();
    await appendUpTo(writer, 200n);
    await until(() => seen.at(-1) === 200n);
    await writer.truncateBefore(150n);
    await appendUpTo(writer, 400n);
    await until(() => seen.at(-1) === 400n);
    expect(seen).toEqual(upTo(1n, 400n));
    expect(reader.floorLsn).toBe(writer.floorLsn);
    expect(reader.durableLsn).toBe(400n);
    abort.abort();
    await expect(following).rejects.toMatchObject({ name: 'AbortError' });
    await reader.close();
    await writer.close();
  });

  it('a tail never skips to a later segment when the one holding its next record is gone', async () => {
    const dir = freshDir();
    const writer = await Wal.open(dir).segmentSize(4096).build();
    await appendUpTo(writer, 300n);
    const reader = await Wal.open(dir).readOnly().build();
    const [, second] = await reader.segments();
    // As truncateBefore or retention would, between a look of the reader and its next read.
    rmSync(second!.path);
    const seen: bigint[] = [];
    const error = await (async () => {
      for await (const record of reader.tail(1n)) {
        seen.push(record.lsn);
        if (record.lsn !== BigInt(seen.length)) return null; // a skip: stop here
      }
    })().catch((err: unknown) => err);
    expect(seen).toEqual(upTo(1n, second!.firstLsn - 1n));
    expect(error).toMatchObject({ code: 'WAL_REPLAY_BELOW_FLOOR' });
    await reader.close();
    await writer.close();
  });

  it('tail(0n) starts at the floor as it is now, after truncations since the reader opened', async () => {
    const io = new MemoryStorageIo();
    const writer = await Wal.open('/log').storageIo(io).segmentSize(4096).build();
    await appendUpTo(writer, 300n);
    const reader = await Wal.open('/log').storageIo(io).readOnly().build();
    const { segmentsDeleted } = await writer.truncateBefore(200n);
    expect(segmentsDeleted).toBeGreaterThan(0);
    const seen: bigint[] = [];
    for await (const record of reader.tail(0n)) {
      seen.push(record.lsn);
      if (record.lsn === 300n) break;
    }
    expect(seen).toEqual(upTo(writer.floorLsn, 300n));
    expect(reader.floorLsn).toBe(writer.floorLsn);
    await reader.close();
    await writer.close();
  });

  it('a tail from an LSN deleted since the reader looked fails with details.floorLsn: read on from there', async () => {
    const io = new MemoryStorageIo();
    const writer = await Wal.open('/log').storageIo(io).segmentSize(4096).build();
    await appendUpTo(writer, 300n);
    const reader = await Wal.open('/log').storageIo(io).readOnly().build();
    await writer.truncateBefore(200n);
    const floor = writer.floorLsn;
    const error = await (async () => {
      for await (const record of reader.tail(2n)) throw new Error(`yielded ${record.lsn}`);
    })().catch((err: unknown) => err);
    expect(error).toMatchObject({
      code: 'WAL_REPLAY_BELOW_FLOOR',
      details: { lsn: 2n, floorLsn: floor },
    });
    const after: bigint[] = [];
    for await (const record of reader.tail(floor)) {
      after.push(record.lsn);
      if (record.lsn === 300n) break;
    }
    expect(after).toEqual(upTo(floor, 300n));
    await reader.close();
    await writer.close();
  });

  it('tail() ends when the reader closes', async () => {
    const io = new MemoryStorageIo();
    const writer = await Wal.open('/log').storageIo(io).build();
    const reader = await Wal.open('/log').storageIo(io).readOnly().build();
    const ended = (async () => {
      for await (const _ of reader.tail(1n)) {
        // nothing is appended
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 120));
    await reader.close();
    await ended;
    await writer.close();
  });
});

async function until(condition: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting for the reader');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

// ------------------------------------------------------------ a writer in another process

const fixture = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  'test',
  'fixtures',
  'follow-writer.mjs',
);
const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

/** The writer child: send it a command, get its answer. */
function writerProcess(dir: string) {
  const child = spawn(process.execPath, [fixture, dir], { stdio: ['pipe', 'pipe', 'inherit'] });
  children.add(child);
  const lines: Record<string, string>[] = [];
  let waiting: (() => void) | undefined;
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      lines.push(JSON.parse(buffered.slice(0, end)));
      buffered = buffered.slice(end + 1);
    }
    waiting?.();
  });
  const exited = new Promise<void>((_, reject) =>
    child.on('exit', (code, signal) =>
      reject(new Error(`the writer exited (${signal ?? code}) unexpectedly`)),
    ),
  );
  exited.catch(() => undefined);
  const next = async (): Promise<Record<string, string>> => {
    while (lines.length === 0) {
      await Promise.race([new Promise<void>((resolve) => (waiting = resolve)), exited]);
    }
    return lines.shift()!;
  };
  return {
    ready: next,
    async send(command: string): Promise<bigint> {
      child.stdin!.write(`${command}\n`);
      return BigInt((await next()).lastLsn!);
    },
  };
}

describe('a read-only Wal beside a writer in another process (built package)', () => {
  it('tail() yields every record the writer appends after the reader opened, across rollovers and a truncation', async () => {
    const dir = freshDir();
    const writer = writerProcess(dir);
    expect(await writer.ready()).toEqual({ ready: true });
    const reader = await Wal.open(dir).readOnly().build();
    const seen: WalRecord[] = [];
    const abort = new AbortController();
    const following = (async () => {
      for await (const record of reader.tail(1n, { signal: abort.signal })) seen.push(record);
    })();

    const first = await writer.send('append 300');
    await until(() => seen.at(-1)?.lsn === first);
    // Segments the reader has passed go; the writer rolls on into new ones.
    await writer.send(`truncate ${first - 20n}`);
    const last = await writer.send('append 300');
    await until(() => seen.at(-1)?.lsn === last);
    abort.abort();
    await expect(following).rejects.toMatchObject({ name: 'AbortError' });

    expect(seen.map((r) => r.lsn)).toEqual(upTo(1n, last));
    for (const record of seen)
      expect(Buffer.compare(record.payload, payloadFor(record.lsn))).toBe(0);
    expect((await reader.segments()).length).toBeGreaterThan(5);
    expect(reader.floorLsn).toBeGreaterThan(1n);
    expect(reader.durableLsn).toBe(last);
    await reader.close();

    // A reader opened now starts at the new floor, as the writer left it.
    const late = await Wal.open(dir).readOnly().build();
    expect(late.floorLsn).toBe(reader.floorLsn);
    expect(await lsnsOf(late, late.floorLsn)).toEqual(upTo(late.floorLsn, last));
    await late.close();
    await writer.send('exit');
  }, 60_000);
});
