import { isWalError, WalErrorCode } from '@walnut/codec';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { type Fault, FaultyStorageIo } from '../simulation/faulty.js';
import { RecordingStorageIo } from '../testing/recording-storage-io.js';
import { writeFully } from './write-fully.js';

const PATH = '/d/log';
const RUNS = 150;

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({
    kind: fc.constant('short-write' as const),
    nth: fc.integer({ min: 1, max: 4 }),
    bytes: fc.nat(6000),
  }),
  fc.record({
    kind: fc.constant('eio' as const),
    op: fc.constant('write' as const),
    nth: fc.integer({ min: 1, max: 6 }),
  }),
  fc.record({ kind: fc.constant('enospc' as const), afterBytes: fc.nat(12_000) }),
);

describe('writeFully under faults (property: faulty backend, overlap watch)', () => {
  it('writes every byte, or fails loudly leaving a prefix; never two writes of one range in flight', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10_000 }),
        fc.nat(5000),
        fc.array(fault, { maxLength: 4 }),
        fc.nat(),
        async (length, offset, faults, seed) => {
          const memory = new MemoryStorageIo();
          await memory.mkdir('/d');
          const faulty = new FaultyStorageIo(memory, { seed });
          const io = new RecordingStorageIo(faulty);
          const fd = await io.open(PATH, { create: true });
          const data = Buffer.alloc(length);
          for (let i = 0; i < length; i++) data[i] = (i * 7 + 1) & 0xff;
          for (const f of faults) faulty.inject(f);
          const outcome = await writeFully(io, fd, data, offset, { path: PATH }).then(
            () => null,
            (error: unknown) => error,
          );
          const file = memory.fileBytes(PATH) ?? Buffer.alloc(0);
          const written = file.subarray(offset);
          expect(io.violations).toEqual([]);
          if (outcome === null) {
            expect(written.equals(data)).toBe(true);
          } else {
            expect(isWalError(outcome)).toBe(true);
            const code = isWalError(outcome) ? outcome.code : undefined;
            if (code === WalErrorCode.NO_SPACE) {
              expect(faults.some((f) => f.kind === 'enospc')).toBe(true);
            } else {
              expect(code).toBe(WalErrorCode.IO);
              expect(faults.some((f) => f.kind !== 'enospc')).toBe(true);
            }
            expect(written.length).toBeLessThan(length);
            expect(written.equals(data.subarray(0, written.length))).toBe(true);
          }
          await io.close(fd);
          await io.closeIo();
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('resends the rest of each short write: as many writes as short completions plus one', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 5 }),
        async (cuts) => {
          const memory = new MemoryStorageIo();
          await memory.mkdir('/d');
          const faulty = new FaultyStorageIo(memory, { seed: 1 });
          const io = new RecordingStorageIo(faulty);
          const fd = await io.open(PATH, { create: true });
          const data = Buffer.alloc(4000, 9);
          for (const [i, bytes] of cuts.entries()) {
            faulty.inject({ kind: 'short-write', nth: i + 1, bytes });
          }
          const results: number[] = [];
          await writeFully(io, fd, data, 0, { observe: (r) => void results.push(r) });
          expect(memory.fileBytes(PATH)?.equals(data)).toBe(true);
          expect(results.length).toBe(cuts.length + 1);
          expect(results.reduce((a, b) => a + b, 0)).toBe(data.length);
          expect(io.violations).toEqual([]);
          await io.closeIo();
        },
      ),
      { numRuns: 50 },
    );
  });
});
