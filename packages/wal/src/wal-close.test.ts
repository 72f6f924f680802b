import { join } from 'node:path';
import { isWalError, WalErrorCode } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo, type StorageChoice } from '@walnut/storage-io';
import {
  expectWalError,
  ioUringForTests,
  removeTempDirs,
  tempDir,
} from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { openFakeWal } from '../test/fake-engine.js';
import { Wal } from './wal.js';

const payload = (tag: string, i: number) => Buffer.from(`${tag}-${i}`);
const tick = () => new Promise((resolve) => setImmediate(resolve));

type Outcome = { payload: string } & (
  | { kind: 'acked'; lsn: bigint }
  | { kind: 'closed' }
  | { kind: 'unknown'; lsn: bigint }
  | { kind: 'other'; error: unknown }
);

/** Appends and remembers how each one ended. */
class Appender {
  readonly outcomes: Promise<Outcome>[] = [];
  constructor(private readonly wal: Wal) {}

  append(text: string): void {
    this.outcomes.push(
      this.wal.append(Buffer.from(text)).then(
        (lsn): Outcome => ({ payload: text, kind: 'acked', lsn }),
        (error: unknown): Outcome =>
          isWalError(error, WalErrorCode.CLOSED)
            ? { payload: text, kind: 'closed' }
            : isWalError(error, WalErrorCode.OUTCOME_UNKNOWN)
              ? { payload: text, kind: 'unknown', lsn: error.details.lsn as bigint }
              : { payload: text, kind: 'other', error },
      ),
    );
  }

  /** Appends `${tag}-0` to `${tag}-${count - 1}`. */
  appendMany(tag: string, count: number): void {
    for (let i = 0; i < count; i++) this.append(`${tag}-${i}`);
  }

  all(): Promise<Outcome[]> {
    return Promise.all(this.outcomes);
  }
}

/**
 * The contract, checked against the reopened log: an acknowledged append is there at its
 * LSN; one rejected with WAL_CLOSED is nowhere; one with WAL_OUTCOME_UNKNOWN is at its LSN
 * or the log ends before it; LSNs have no hole.
 */
function checkAgainstLog(outcomes: Outcome[], log: Map<bigint, string>): void {
  const lsns = [...log.keys()];
  expect(lsns).toEqual(lsns.map((_, i) => BigInt(i + 1)));
  const last = BigInt(lsns.length);
  const inLog = new Set(log.values());
  for (const outcome of outcomes) {
    if (outcome.kind === 'other') throw outcome.error;
    if (outcome.kind === 'acked') expect(log.get(outcome.lsn)).toBe(outcome.payload);
    if (outcome.kind === 'closed') expect(inLog.has(outcome.payload)).toBe(false);
    if (outcome.kind === 'unknown') {
      expect(typeof outcome.lsn).toBe('bigint');
      if (outcome.lsn <= last) expect(log.get(outcome.lsn)).toBe(outcome.payload);
    }
  }
}

async function logOf(dir: string, storageIo: StorageChoice): Promise<Map<bigint, string>> {
  const wal = await Wal.open(dir).storageIo(storageIo).recovery('strict').build();
  const log = new Map<bigint, string>();
  await wal.replay(1n, (record) => {
    log.set(record.lsn, record.payload.toString());
  });
  await wal.close();
  return log;
}

const kinds = (outcomes: Outcome[]) => outcomes.map((o) => o.kind);

/** Calls close() while writes are held, then lets them complete (`release`) and waits. */
async function closeThenRelease(wal: Wal, release: () => void): Promise<void> {
  const closed = wal.close();
  release();
  await closed;
}

describe('close(): WAL_CLOSED means never in the log (fake engine)', () => {
  it('drops what was not handed over and rejects it WAL_CLOSED; what was handed over gets WAL_OUTCOME_UNKNOWN with its LSN', async () => {
    const { wal, engine } = await openFakeWal();
    engine.hold = true;
    const appender = new Appender(wal);
    appender.appendMany('a', 20);
    await tick(); // the group commit took records 1..20
    appender.appendMany('b', 10);
    await closeThenRelease(wal, () => engine.release());
    const outcomes = await appender.all();
    expect(kinds(outcomes)).toEqual([...Array(20).fill('unknown'), ...Array(10).fill('closed')]);
    expect(outcomes.slice(0, 20).map((o) => (o.kind === 'unknown' ? o.lsn : 0n))).toEqual(
      Array.from({ length: 20 }, (_, i) => BigInt(i + 1)),
    );
    expect(engine.records.map((r) => r.payload.toString())).toEqual(
      Array.from({ length: 20 }, (_, i) => `a-${i}`),
    );
    expect(wal.lastLsn).toBe(20n);
  });

  it('keeps every record up to the last LSN appendQueued handed out, and only drops those after it', async () => {
    const { wal, engine } = await openFakeWal();
    const appender = new Appender(wal);
    appender.append('a');
    appender.append('b');
    expect(wal.appendQueued(payload('queued', 0))).toBe(3n);
    appender.append('c');
    appender.append('d');
    await wal.close();
    expect(kinds(await appender.all())).toEqual(['unknown', 'unknown', 'closed', 'closed']);
    expect(engine.records.map((r) => r.payload.toString())).toEqual(['a', 'b', 'queued-0']);
  });

  it("keeps every record acknowledged under 'none'", async () => {
    const { wal, engine } = await openFakeWal({ durability: 'none' });
    const lsns = await Promise.all(
      Array.from({ length: 50 }, (_, i) => wal.append(payload('n', i))),
    );
    await wal.close();
    expect(lsns.at(-1)).toBe(50n);
    expect(engine.records).toHaveLength(50);
  });

  it('rejects appends still waiting for queue room with WAL_CLOSED, and writes none of them', async () => {
    const { wal, engine } = await openFakeWal({ maxQueueBytes: 16 });
    engine.hold = true;
    const appender = new Appender(wal);
    appender.appendMany('blocked', 6);
    expect(wal.stats().blockedAppends).toBe(5);
    await closeThenRelease(wal, () => engine.release());
    expect(kinds(await appender.all())).toEqual(['closed', ...Array(5).fill('closed')]);
    expect(engine.records).toHaveLength(0);
  });
});

describe('close() over SegmentedWal, with completions held (deterministic)', () => {
  async function heldWal() {
    const memory = new MemoryStorageIo();
    const faulty = new FaultyStorageIo(memory);
    const wal = await Wal.open('/log').storageIo(faulty).build();
    return { wal, faulty, memory };
  }

  it('written-not-completed appends get WAL_OUTCOME_UNKNOWN and are in the log; buffered ones WAL_CLOSED and are not', async () => {
    const { wal, faulty, memory } = await heldWal();
    faulty.holdCompletions();
    const appender = new Appender(wal);
    appender.appendMany('a', 10);
    await tick(); // write + fdatasync of 1..10 submitted; their completions held
    appender.appendMany('b', 10);
    await closeThenRelease(wal, () => faulty.releaseCompletions());
    const outcomes = await appender.all();
    expect(kinds(outcomes)).toEqual([...Array(10).fill('unknown'), ...Array(10).fill('closed')]);
    const log = await logOf('/log', memory);
    expect(log.size).toBe(10);
    checkAgainstLog(outcomes, log);
  });

  it('the same after a shutdown that timed out', async () => {
    const { wal, faulty, memory } = await heldWal();
    faulty.holdCompletions();
    const appender = new Appender(wal);
    appender.appendMany('a', 10);
    await expectWalError(wal.shutdown(20), 'WAL_TIMEOUT');
    appender.appendMany('b', 10);
    await closeThenRelease(wal, () => faulty.releaseCompletions());
    const outcomes = await appender.all();
    expect(kinds(outcomes)).toEqual([...Array(10).fill('unknown'), ...Array(10).fill('closed')]);
    checkAgainstLog(outcomes, await logOf('/log', memory));
  });

  it('a failed fdatasync: the group is OUTCOME_UNKNOWN (and in the log here), later appends WAL_POISONED and never written', async () => {
    const { wal, faulty, memory } = await heldWal();
    faulty.holdCompletions();
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    const group = Array.from({ length: 5 }, (_, i) => wal.append(payload('a', i)));
    await tick();
    const later = Array.from({ length: 5 }, (_, i) => wal.append(payload('b', i)));
    faulty.releaseCompletions();
    const groupErrors = await Promise.all(
      group.map((appended) => expectWalError(appended, 'WAL_OUTCOME_UNKNOWN')),
    );
    for (const [i, error] of groupErrors.entries()) {
      expect(error).toMatchObject({ details: { lsn: BigInt(i + 1) } });
    }
    await Promise.all(later.map((appended) => expectWalError(appended, 'WAL_POISONED')));
    await wal.close();
    const log = await logOf('/log', memory);
    expect([...log.values()]).toEqual(Array.from({ length: 5 }, (_, i) => `a-${i}`));
  });

  it('records up to the last appendQueued LSN are written by close(); appends after it are dropped', async () => {
    const { wal, memory } = await heldWal();
    const appender = new Appender(wal);
    for (let i = 0; i < 100; i++) wal.appendQueued(payload('queued', i));
    appender.append('after-0');
    appender.append('after-1');
    await wal.close();
    expect(kinds(await appender.all())).toEqual(['closed', 'closed']);
    const log = await logOf('/log', memory);
    expect(log.size).toBe(100);
    expect(log.get(100n)).toBe('queued-99');
  });
});

const root = tempDir('walnut-wal-close-');
afterAll(removeTempDirs);
const ioUring = ioUringForTests();

describe.each([
  ['io_uring', ioUring.skip === false],
  ['sync-fs', true],
] as const)('close() with many appends in flight, real files (%s)', (backend, runs) => {
  it.runIf(runs)(
    'no WAL_CLOSED append is in the reopened log, every other one is where its outcome says',
    async () => {
      for (let round = 0; round < 5; round++) {
        const dir = join(root, `${backend}-${round}`);
        const wal = await Wal.open(dir).storageIo(backend).build();
        const appender = new Appender(wal);
        appender.appendMany(`r${round}-a`, 300);
        // Let some group commits go out (and some complete), then append more and close.
        for (let t = 0; t < round; t++) await tick();
        appender.appendMany(`r${round}-b`, 300);
        await wal.close();
        const outcomes = await appender.all();
        expect(kinds(outcomes)).toContain('closed');
        checkAgainstLog(outcomes, await logOf(dir, backend));
      }
    },
  );
});

describe('await using', () => {
  it('closes the log when the scope ends, releasing its lock', async () => {
    const dir = join(root, 'await-using');
    let lsn: bigint;
    {
      await using wal = await Wal.open(dir).storageIo('sync-fs').build();
      lsn = await wal.append(Buffer.from('kept'));
    }
    const again = await Wal.open(dir).storageIo('sync-fs').build();
    const records: [bigint, string][] = [];
    await again.replay(1n, (r) => {
      records.push([r.lsn, r.payload.toString()]);
    });
    expect(records).toEqual([[lsn, 'kept']]);
    await again.close();
  });
});
