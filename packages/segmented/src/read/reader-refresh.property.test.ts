import { isWalError, type WalRecord } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { collect, DIR } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const newPayload = (lsn: bigint) => Buffer.from(`new history ${lsn}`);

describe('a read-only opener following a writer that cuts its log (property)', () => {
  it('never hands out a record of the old history above a cut it found, and reads the new history whole', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          written: fc.integer({ min: 1, max: 120 }),
          read: fc.nat(),
          cut: fc.nat(),
          appended: fc.nat({ max: 40 }),
          segmentTargetSize: fc.constantFrom(4096, 1 << 20),
        }),
        async ({ written, read, cut, appended, segmentTargetSize }) => {
          const io = new MemoryStorageIo();
          const writer = await SegmentedWal.open({ dir: DIR, io, segmentTargetSize });
          for (let lsn = 1n; lsn <= BigInt(written); lsn++)
            writer.append({ payload: payloadFor(lsn) });
          await writer.sync();
          const reader = await SegmentedWal.open({ dir: DIR, io, readOnly: true });
          const started = reader.replayFrom(1n)[Symbol.asyncIterator]();
          const handedOut: WalRecord[] = [];
          for (let i = 0; i < read % (written + 1); i++)
            handedOut.push((await started.next()).value);
          const afterLsn = BigInt(cut % (written + 1));
          await writer.truncateAfter(afterLsn);
          const last = afterLsn + BigInt(appended);
          for (let lsn = afterLsn + 1n; lsn <= last; lsn++)
            writer.append({ payload: newPayload(lsn) });
          await writer.sync();

          expect(await reader.refresh()).toBe(last);
          const beforeCut = handedOut.length;
          let error: unknown = null;
          try {
            for (let step = await started.next(); step.done !== true; step = await started.next())
              handedOut.push(step.value);
          } catch (caught) {
            error = caught;
          }
          expect(handedOut.map((r) => r.lsn)).toEqual(handedOut.map((_, i) => BigInt(i + 1)));
          for (const r of handedOut.slice(beforeCut)) expect(r.lsn).toBeLessThanOrEqual(afterLsn);
          for (const r of handedOut) expect(r.payload).toEqual(payloadFor(r.lsn));
          if (error !== null) {
            expect(isWalError(error, 'WAL_TRUNCATED') && error.details.lsn).toBe(afterLsn);
          } else
            expect(handedOut.length).toBeGreaterThanOrEqual(Math.min(written, Number(afterLsn)));
          expect(
            (await collect(reader.replayFrom(1n))).map((r) =>
              r.lsn <= afterLsn
                ? r.payload.equals(payloadFor(r.lsn))
                : r.payload.equals(newPayload(r.lsn)),
            ),
          ).toEqual(Array.from({ length: Number(last) }, () => true));
          await writer.close();
          await reader.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
