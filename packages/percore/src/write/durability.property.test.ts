import { FaultyStorageIo, MemoryStorageIo, UnorderedStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PerCoreWalReader } from '../read/reader.js';
import { CoreWalWriter } from './core-wal-writer.js';

type Step = { kind: 'append'; size: number } | { kind: 'sync' } | { kind: 'poll' };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('append' as const), size: fc.nat(3000) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('sync' as const) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('poll' as const) }) },
);

describe('syncedPosition is honest (property, StorageIo path, operations out of order, crash with torn writes)', () => {
  it('after a crash the file holds valid entries at least up to syncedPosition', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(step, { maxLength: 40 }),
        fc.nat(),
        fc.option(fc.nat(), { nil: undefined }),
        fc.boolean(),
        async (steps, seed, orderSeed, reorder) => {
          const memory = new MemoryStorageIo();
          await memory.mkdir('/d');
          const faulty = new FaultyStorageIo(memory, { seed });
          // Half the cases run independent operations in a random order, as io_uring may.
          const io =
            orderSeed === undefined ? faulty : new UnorderedStorageIo(faulty, { seed: orderSeed });
          const writer = await CoreWalWriter.create(0, '/d/wal-0.log', { io, bufferSize: 4096 });
          let appended = 0;
          for (const s of steps) {
            if (s.kind === 'append') {
              writer.appendPutViaStorageIo(Buffer.from(`k${appended++}`), Buffer.alloc(s.size, 7));
            } else if (s.kind === 'sync') {
              writer.syncViaStorageIo();
            } else {
              io.flush();
              // Completions are delivered from the event loop.
              await new Promise((resolve) => setImmediate(resolve));
              writer.checkCompletions(io.pollCompletions());
            }
          }
          const synced = writer.syncedPosition;
          await faulty.crash({ tear: true, reorder });
          const reader = await PerCoreWalReader.open('/d/wal-0.log', { io: memory, coreId: 0 });
          // As recovery reads it: a torn write may keep a sector of a later entry while the
          // sectors before it were lost, a hole of lost writes that is a torn tail (0215).
          const result = await reader.read({ unsyncedTail: true });
          await reader.close();
          expect(result.end).toBeGreaterThanOrEqual(synced);
          expect(result.entries.length).toBeLessThanOrEqual(appended);
        },
      ),
      { numRuns: 80 },
    );
  });
});
