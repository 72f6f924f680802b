import type { WalRecord } from '@walnut/codec';
import { MmapWalReader } from '@walnut/mmap-reader';
import type { SegmentInfo } from '@walnut/segmented';
import { payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { FakeEngine, fakeSegment } from '../test/fake-engine.js';
import type { EngineSegment } from './engine.js';
import { RecordIterator, WalRecordSource } from './read-records.js';
import { Wal } from './wal.js';

afterAll(removeTempDirs);

/** A log whose first segment is behind the active one but not sealed yet (a rollover in progress). */
class RollingEngine extends FakeEngine {
  override readonly activeSegmentFirstLsn = 4n;
  sealed = false;
  /** What the engine says of the active segment's written bytes (undefined: nothing). */
  activeWrittenBytes: number | undefined = undefined;
  override async listSegments(): Promise<readonly SegmentInfo[]> {
    const active = fakeSegment({ path: '/fake/4.wal', firstLsn: 4n, lastLsn: 5n });
    return [
      fakeSegment({ path: '/fake/1.wal', firstLsn: 1n, lastLsn: 3n, sealed: this.sealed }),
      // WalRecordSource takes EngineSegments, whose writtenBytes an engine may leave out.
      { ...active, writtenBytes: this.activeWrittenBytes } as SegmentInfo,
    ];
  }
}

/** Records 1–3 in the first segment, 4–5 in the active one, all written. */
async function fiveRecords(): Promise<RollingEngine> {
  const engine = new RollingEngine();
  for (let i = 0; i < 5; i++) engine.append({ payload: Buffer.from(`r${i}`) });
  await engine.flush();
  return engine;
}

async function lsnsRead(
  engine: RollingEngine,
  mapped: string[],
  from = 1n,
  readsUnsealed = false,
): Promise<bigint[]> {
  const openSegment = (segment: EngineSegment) => {
    mapped.push(segment.path);
    const records = engine.records.filter(
      (r) => r.lsn >= segment.firstLsn && r.lsn <= segment.lastLsn!,
    );
    let at = 0;
    const next = () => records[at++] ?? null;
    const drain = (fn: (record: WalRecord) => unknown) => {
      for (let record = next(); record !== null; record = next()) fn(record);
      return undefined;
    };
    const skipTo = (lsn: bigint) => {
      while (at < records.length && records[at]!.lsn < lsn) at++;
      return true;
    };
    return { next, drain, skipTo, finish() {}, close() {} };
  };
  const out: bigint[] = [];
  const cursor = new WalRecordSource(engine, from, 5n, openSegment, readsUnsealed);
  for await (const record of new RecordIterator(cursor)) out.push(record.lsn);
  return out;
}

describe('WalRecordSource', () => {
  it('maps only segments that are sealed; one still being sealed is read through the engine', async () => {
    const engine = await fiveRecords();
    const mapped: string[] = [];
    expect(await lsnsRead(engine, mapped)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(mapped).toEqual([]);
    engine.sealed = true;
    expect(await lsnsRead(engine, mapped)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(mapped).toEqual(['/fake/1.wal']);
  });

  it('maps the segment being written up to its written bytes when reading starts at or before it', async () => {
    const engine = await fiveRecords();
    engine.sealed = true;
    engine.activeWrittenBytes = 4096;
    const mapped: string[] = [];
    expect(await lsnsRead(engine, mapped, 1n, true)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(mapped).toEqual(['/fake/1.wal', '/fake/4.wal']);
    mapped.length = 0;
    expect(await lsnsRead(engine, mapped, 4n, true)).toEqual([4n, 5n]);
    expect(mapped).toEqual(['/fake/4.wal']);
  });

  it('reads the segment being written through the engine when it must', async () => {
    const engine = await fiveRecords();
    engine.sealed = true;
    const mapped: string[] = [];
    // The engine does not say how far it is written.
    expect(await lsnsRead(engine, mapped, 1n, true)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(mapped).toEqual(['/fake/1.wal']);
    engine.activeWrittenBytes = 4096;
    // A reader that does not write the log (another process could cut the file).
    mapped.length = 0;
    expect(await lsnsRead(engine, mapped, 1n, false)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(mapped).toEqual(['/fake/1.wal']);
    // Reading starts inside it: the engine's pages resume where they stopped, a map would rescan.
    mapped.length = 0;
    expect(await lsnsRead(engine, mapped, 5n, true)).toEqual([5n]);
    expect(mapped).toEqual([]);
  });
});

describe('reading mapped segments, which never wait for I/O', () => {
  // 100 ms of the consumer's work in all: several slices. `replay(fn)` with a synchronous fn
  // looks at the clock between runs of up to 4096 records, the others every 64 records.
  const RECORDS = 20_000;
  const PER_RECORD_MS = 0.005;

  /** A closed log of RECORDS records, in many segments or one, each read through a mapping. */
  async function mappedLog(segmentSize: number): Promise<string> {
    const dir = tempDir();
    const wal = await Wal.open(dir).segmentSize(segmentSize).durability('none').build();
    const payloads = Array.from({ length: RECORDS }, (_, i) => payloadFor(i, 100));
    await wal.appendMany(payloads);
    await wal.close();
    return dir;
  }

  /**
   * How many records were handed out at each turn of the event loop's timers while `read`
   * gave every record to a consumer that works on each for PER_RECORD_MS.
   */
  async function turnsWhile(
    read: (consume: (record: WalRecord) => void) => Promise<void>,
  ): Promise<number[]> {
    let handedOut = 0;
    const turns: number[] = [];
    const tick = () => {
      turns.push(handedOut);
      if (handedOut < RECORDS) setTimeout(tick, 0);
    };
    await read(() => {
      if (handedOut++ === 0) setTimeout(tick, 0);
      const end = performance.now() + PER_RECORD_MS;
      while (performance.now() < end);
    });
    expect(handedOut).toBe(RECORDS);
    return turns;
  }

  const readers: [string, (wal: Wal, consume: (record: WalRecord) => void) => Promise<void>][] = [
    ['replay', (wal, consume) => wal.replay(1n, consume)],
    [
      'replay with an async fn',
      (wal, consume) => wal.replay(1n, async (record) => consume(record)),
    ],
    [
      'iterator',
      async (wal, consume) => {
        for await (const record of wal.iterator(1n)) consume(record);
      },
    ],
    [
      'tail',
      async (wal, consume) => {
        for await (const record of wal.tail(1n)) {
          consume(record);
          if (record.lsn === BigInt(RECORDS)) break;
        }
      },
    ],
  ];

  const cases = readers.flatMap(([name, read]) =>
    [8192, 64 * 1024 * 1024].map((segmentSize) => [name, segmentSize, read] as const),
  );
  it.each(cases)(
    '%s lets the timers run while it reads, not only at its end (segments of %i bytes)',
    async (_, segmentSize, read) => {
      const wal = await Wal.open(await mappedLog(segmentSize)).build();
      const turns = await turnsWhile((consume) => read(wal, consume));
      expect(turns.length).toBeGreaterThanOrEqual(2);
      expect(turns[0]).toBeLessThan(RECORDS / 2);
      await wal.close();
    },
  );
});

describe("an iterator's skipTo", () => {
  const RECORDS = 3000;

  /** RECORDS records in segments of `segmentSize` bytes; the writer is left open. */
  async function log(segmentSize: number): Promise<{ dir: string; wal: Wal }> {
    const dir = tempDir();
    const wal = await Wal.open(dir).segmentSize(segmentSize).durability('none').build();
    await wal.appendMany(Array.from({ length: RECORDS }, (_, i) => payloadFor(i, 100)));
    await wal.flush();
    return { dir, wal };
  }

  /** Yields the record at each target, and `after` records after each. */
  async function skipping(wal: Wal, targets: bigint[], after: number): Promise<bigint[]> {
    const iterator = wal.iterator(1n);
    const got: bigint[] = [];
    for (const target of targets) {
      iterator.skipTo(target);
      for (let k = 0; k <= after; k++) {
        const { value, done } = await iterator.next();
        if (done) return got;
        got.push(value.lsn);
      }
    }
    await iterator.return();
    return got;
  }

  const targets = Array.from({ length: 60 }, (_, i) => BigInt(2 + i * 49));
  const expected = (after: number) =>
    targets.flatMap((t) => Array.from({ length: after + 1 }, (_, k) => t + BigInt(k)));

  it.each([
    ['sealed segments and the one being written', 8192],
    ['only the segment being written, read in pages', 64 * 1024 * 1024],
  ])('hands out the records at and after each target, across %s', async (_, segmentSize) => {
    const { wal } = await log(segmentSize);
    expect(await skipping(wal, targets, 0)).toEqual(expected(0));
    expect(await skipping(wal, targets, 2)).toEqual(expected(2));
    // Back or to where it is: nothing passed over, nothing handed out twice.
    const iterator = wal.iterator(10n);
    expect((await iterator.next()).value.lsn).toBe(10n);
    iterator.skipTo(5n);
    iterator.skipTo(11n);
    expect((await iterator.next()).value.lsn).toBe(11n);
    // In a segment read whole (the iterator entered it from the one before), the same.
    const segments = await wal.segments();
    if (segments.length > 3) {
      const third = segments[2]!.firstLsn;
      iterator.skipTo(third - 1n);
      expect((await iterator.next()).value.lsn).toBe(third - 1n);
      expect((await iterator.next()).value.lsn).toBe(third);
      iterator.skipTo(third - 5n);
      expect((await iterator.next()).value.lsn).toBe(third + 1n);
    }
    // Past the end: done.
    iterator.skipTo(BigInt(RECORDS + 5));
    expect((await iterator.next()).done).toBe(true);
    await wal.close();
  });

  it('opens no sealed segment below the target', async () => {
    const { wal } = await log(8192);
    const segments = await wal.segments();
    expect(segments.filter((s) => s.sealed).length).toBeGreaterThan(4);
    const target = segments[3]!.firstLsn + 1n;
    const iterator = wal.iterator(1n);
    iterator.skipTo(target);
    const opened = vi.spyOn(MmapWalReader, 'open');
    expect((await iterator.next()).value.lsn).toBe(target);
    expect(opened.mock.calls.map(([path]) => String(path))).toEqual([segments[3]!.path]);
    opened.mockRestore();
    await iterator.return();
    await wal.close();
  });

  it("skips before a read-only opener's first record, once it caught up with the writer", async () => {
    const { dir, wal } = await log(8192);
    const reader = await Wal.open(dir).readOnly().build();
    const iterator = reader.iterator(1n);
    iterator.skipTo(2500n);
    iterator.skipTo(2000n);
    expect((await iterator.next()).value.lsn).toBe(2500n);
    iterator.skipTo(2999n);
    expect((await iterator.next()).value.lsn).toBe(2999n);
    await iterator.return();
    await reader.close();
    await wal.close();
  });

  it('lets the event loop turn during a long skip within one segment', async () => {
    const dir = tempDir();
    const writer = await Wal.open(dir).durability('none').build();
    await writer.appendMany(Array.from({ length: 20_000 }, (_, i) => payloadFor(i, 20)));
    await writer.close();
    const wal = await Wal.open(dir).build();
    const iterator = wal.iterator(1n);
    expect((await iterator.next()).value.lsn).toBe(1n);
    // Every look at the clock finds the slice spent, so each look may be a turn.
    let now = performance.now();
    vi.spyOn(performance, 'now').mockImplementation(() => (now += 1000));
    // A turn counted at each pass of the loop's check phase, where the reader's pause
    // resumes: a timer of 0 ms fires only once a whole millisecond has passed, which a fast
    // runtime's turns need not take.
    let turns = 0;
    let ticking = setImmediate(function tick() {
      turns++;
      ticking = setImmediate(tick);
    });
    const skip = MmapWalReader.prototype.skipTo;
    const turnAtEachCall: number[] = [];
    vi.spyOn(MmapWalReader.prototype, 'skipTo').mockImplementation(function (
      this: MmapWalReader,
      ...args
    ) {
      turnAtEachCall.push(turns);
      return skip.apply(this, args);
    });
    iterator.skipTo(19_999n);
    expect((await iterator.next()).value.lsn).toBe(19_999n);
    clearImmediate(ticking);
    vi.restoreAllMocks();
    // 20,000 frames, at most 4096 a call, and the loop turned between the calls.
    expect(turnAtEachCall.length).toBeGreaterThanOrEqual(5);
    expect(new Set(turnAtEachCall).size).toBeGreaterThanOrEqual(4);
    await iterator.return();
    await wal.close();
  });

  it('counts the records a skip passes over as handed out when a cut comes before the next read', async () => {
    const { wal } = await log(8192);
    const third = (await wal.segments())[2]!;
    const iterator = wal.iterator(1n);
    for (let lsn = 1n; lsn <= third.firstLsn; lsn++) {
      expect((await iterator.next()).value.lsn).toBe(lsn);
    }
    iterator.skipTo(third.firstLsn + 40n);
    await wal.truncateAfter(third.firstLsn + 10n);
    await expect(iterator.next()).rejects.toMatchObject({ code: 'WAL_TRUNCATED' });
    await wal.close();
  });

  it('refuses an LSN that is not a bigint', async () => {
    const { wal } = await log(64 * 1024);
    expect(() => wal.iterator(1n).skipTo(5 as never)).toThrow(
      expect.objectContaining({ code: 'WAL_BAD_ARGUMENT' }),
    );
    await wal.close();
  });
});
