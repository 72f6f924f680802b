import type { CoreEntry } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PerCoreWalManager } from '../manager/manager.js';

const CORES = 3;

type Command =
  | { kind: 'put'; core: number; size: number }
  | { kind: 'sync'; core: number }
  | { kind: 'checkpoint' }
  | { kind: 'clock'; delta: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('put' as const),
      core: fc.nat(CORES - 1),
      size: fc.nat(600),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('sync' as const), core: fc.nat(CORES - 1) }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('checkpoint' as const) }) },
  // The shared clock jumps, forwards or (as wall clocks do) backwards.
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('clock' as const),
      delta: fc.integer({ min: -1000, max: 1000 }),
    }),
  },
);

const keyOf = (e: CoreEntry) => (e.op === 'put' ? e.key.toString() : e.op);

describe('recovery after a power loss (property)', () => {
  it('returns every synced entry after the last checkpoint, no entry twice, in a valid merged order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(command, { maxLength: 60 }),
        // Lost whole, the last write torn, or pages of any unsynced write kept out of order.
        fc.record({ tear: fc.boolean(), reorder: fc.boolean() }),
        fc.nat(),
        async (commands, loss, seed) => {
          const io = new MemoryStorageIo();
          let now = 1_000_000n;
          const clock = () => now;
          const manager = await PerCoreWalManager.create({
            baseDir: '/p',
            numCores: CORES,
            io,
            clock,
            // Small, so that unsynced entries reach the files before a sync writes them.
            bufferSize: 4096,
          });
          // Per core: keys appended since the last checkpoint, and how many of them are synced.
          let appended: string[][] = Array.from({ length: CORES }, () => []);
          const synced = new Array<number>(CORES).fill(0);
          let n = 0;
          for (const c of commands) {
            if (c.kind === 'put') {
              const key = `c${c.core}-${n++}`;
              manager.writer(c.core).appendPut(Buffer.from(key), Buffer.alloc(c.size, 1));
              appended[c.core]!.push(key);
            } else if (c.kind === 'sync') {
              await manager.writer(c.core).sync();
              synced[c.core] = appended[c.core]!.length;
            } else if (c.kind === 'checkpoint') {
              await manager.checkpoint(manager.manifest.checkpointId + 1n);
              appended = appended.map(() => []);
              synced.fill(0);
            } else now += BigInt(c.delta);
          }
          io.simulatePowerLoss({ ...loss, seed });

          const reopened = await PerCoreWalManager.open({
            baseDir: '/p',
            numCores: CORES,
            io,
            clock,
          });
          const { entries } = await reopened.recover();
          for (let core = 0; core < CORES; core++) {
            const got = entries.filter((e) => e.coreId === core).map(keyOf);
            // A prefix of what was appended (in this core's order), holding at least what was synced.
            expect(got).toEqual(appended[core]!.slice(0, got.length));
            expect(got.length).toBeGreaterThanOrEqual(synced[core]!);
          }
          for (let i = 1; i < entries.length; i++)
            expect(entries[i]!.epoch >= entries[i - 1]!.epoch).toBe(true);
          await reopened.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
