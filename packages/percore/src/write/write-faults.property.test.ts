import { isWalError, WalErrorCode } from '@walnut/codec';
import {
  type Fault,
  FaultyStorageIo,
  MemoryStorageIo,
  UnorderedStorageIo,
} from '@walnut/storage-io';
import { RecordingStorageIo } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PerCoreWalReader } from '../read/reader.js';
import { CoreWalWriter } from './core-wal-writer.js';

// Replay a failure with the `seed` and `path` fast-check prints: `fc.assert(…, { seed, path })`.
// The FaultyStorageIo's seed is part of the counterexample, so the tear replays too.

const PATH = '/d/wal-0.log';

type Op =
  | { kind: 'append'; size: number }
  | { kind: 'sync' }
  | { kind: 'poll' }
  | { kind: 'fault'; fault: Fault };

const faultArb: fc.Arbitrary<Fault> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('short-write' as const),
      nth: fc.integer({ min: 1, max: 3 }),
      bytes: fc.nat(3000),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('eio' as const),
      op: fc.constantFrom('write' as const, 'fdatasync' as const),
      nth: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('enospc' as const), afterBytes: fc.nat(20_000) }),
  },
);

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('append' as const), size: fc.nat(1500) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('poll' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fault' as const), fault: faultArb }) },
);

/** One macrotask: completions are delivered from the event loop. */
const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A failed call of a writer under I/O faults: the fault itself once, then WAL_POISONED. */
function expectFaultError(error: unknown): void {
  expect(isWalError(error), String(error)).toBe(true);
  expect([WalErrorCode.IO, WalErrorCode.NO_SPACE, WalErrorCode.POISONED]).toContain(
    (error as { code: string }).code,
  );
}

/** A value that says which append it belongs to, so a misplaced byte cannot pass. */
function valueFor(index: number, size: number): Buffer {
  const value = Buffer.alloc(size);
  for (let i = 0; i < size; i++) value[i] = (index * 31 + i * 7) & 0xff;
  return value;
}

interface Appended {
  readonly key: Buffer;
  readonly value: Buffer;
  /** The position after the entry. */
  readonly end: number;
}

/**
 * Feeds the StorageIo path's completions until none is left or the writer fails.
 * Bounded: `waitCompletions` resolves at once with nothing when nothing can complete, and a
 * loop that waited for a sync that is not coming would then spin forever in microtasks,
 * where no test timeout can stop it.
 */
async function drain(writer: CoreWalWriter, io: RecordingStorageIo): Promise<void> {
  for (
    let round = 0;
    round < 100 && (writer.isSyncPending || io.inFlight > 0) && !writer.poisoned;
    round++
  ) {
    await tick();
    try {
      writer.checkCompletions(io.pollCompletions());
    } catch (error) {
      expectFaultError(error);
    }
  }
}

describe('CoreWalWriter under short writes and I/O faults (property: faulty backend, overlap watch)', () => {
  it('every acknowledged entry reads back intact after a power loss; nothing unacknowledged is called durable', {
    timeout: 120_000,
  }, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('direct' as const, 'storageIo' as const),
        fc.array(opArb, { minLength: 10, maxLength: 60, size: 'max' }),
        fc.nat(),
        fc.boolean(),
        fc.option(fc.nat(), { nil: undefined }),
        async (path, ops, seed, reorder, orderSeed) => {
          const memory = new MemoryStorageIo();
          await memory.mkdir('/d');
          const faulty = new FaultyStorageIo(memory, { seed });
          // Half the cases run independent operations in a random order, as io_uring may.
          const io = new RecordingStorageIo(
            orderSeed === undefined ? faulty : new UnorderedStorageIo(faulty, { seed: orderSeed }),
          );
          const writer = await CoreWalWriter.create(0, PATH, { io, bufferSize: 4096 });
          const appended: Appended[] = [];
          const append = (size: number): void => {
            const key = Buffer.from(`k${appended.length}`);
            const value = valueFor(appended.length, size);
            const end =
              path === 'direct'
                ? writer.appendPut(key, value)
                : writer.appendPutViaStorageIo(key, value);
            appended.push({ key, value, end });
          };
          for (const op of ops) {
            try {
              if (op.kind === 'append') append(op.size);
              else if (op.kind === 'fault') faulty.inject(op.fault);
              else if (op.kind === 'sync' && path === 'direct') {
                const at = writer.position;
                await writer.sync();
                expect(writer.syncedPosition).toBeGreaterThanOrEqual(at);
              } else if (op.kind === 'sync') writer.syncViaStorageIo();
              else {
                await tick();
                if (path === 'storageIo') writer.checkCompletions(io.pollCompletions());
              }
            } catch (error) {
              expectFaultError(error);
            }
          }
          if (path === 'storageIo') await drain(writer, io);
          // Let the direct path's writes (and the rests of short ones) settle before the power goes.
          for (let i = 0; i < 10 && io.inFlight > 0; i++) await tick();

          const acknowledged = writer.syncedPosition;
          expect(acknowledged).toBeLessThanOrEqual(writer.position);
          expect([64, ...appended.map((a) => a.end)]).toContain(acknowledged);
          expect(io.violations).toEqual([]);
          // Unsynced writes are lost, the newest maybe torn, or (with `reorder`) kept page by
          // page out of order: a hole of lost writes, which recovery (`unsyncedTail`) reads as
          // a torn tail. A write that failed (EIO, ENOSPC, a short write that moved nothing or
          // part of an entry) leaves a hole of its own, behind which writes submitted before
          // the writer was told may land (on the StorageIo path even with an fdatasync that
          // ran), and it need not look like lost writes: the file then reads as mid-file
          // damage after the acknowledged part. A writer that did not fail leaves no such
          // hole: the whole file reads.
          await faulty.crash({ tear: true, reorder });
          const holeAllowed = writer.poisoned;
          const reader = await PerCoreWalReader.open(PATH, { io: memory, coreId: 0 });
          const read = await reader.read(
            holeAllowed ? { to: acknowledged } : { unsyncedTail: true },
          );
          await reader.close();
          expect(read.end).toBeGreaterThanOrEqual(acknowledged);
          expect(read.entries.length).toBeLessThanOrEqual(appended.length);
          read.entries.forEach((entry, i) => {
            expect(entry.op).toBe('put');
            expect(entry.sequence).toBe(BigInt(i + 1));
            if (entry.op !== 'put') return;
            expect(Buffer.from(entry.key).equals(appended[i]!.key)).toBe(true);
            expect(Buffer.from(entry.value).equals(appended[i]!.value)).toBe(true);
          });

          // The recovered file goes on: resumed at its valid end, it takes and keeps one more.
          const resumed = await CoreWalWriter.openAt(0, PATH, read.end, { io: memory });
          resumed.appendPut(Buffer.from('after'), Buffer.from('crash'));
          await resumed.close();
          const again = await PerCoreWalReader.open(PATH, { io: memory, coreId: 0 });
          expect((await again.read()).entries).toHaveLength(read.entries.length + 1);
          await again.close();
        },
      ),
      { numRuns: 100, interruptAfterTimeLimit: 90_000 },
    );
  });
});
