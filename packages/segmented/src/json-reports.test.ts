import { FaultyStorageIo, MemoryStorageIo, PowerLossAtStep } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { DIR } from '../test/helpers.js';
import { SegmentedWal } from './index.js';

const config = { dir: DIR, segmentTargetSize: 4096 };
const sent = (value: unknown) => JSON.parse(JSON.stringify(value));

async function thirtyRecords(io: MemoryStorageIo | PowerLossAtStep): Promise<SegmentedWal> {
  const wal = await SegmentedWal.open({ ...config, io });
  for (let i = 0; i < 30; i++) wal.append({ payload: Buffer.alloc(300, i) });
  await wal.sync();
  return wal;
}

describe('what the log reports goes through JSON.stringify, LSNs as decimal strings', () => {
  it('a truncateAfter result', async () => {
    const wal = await thirtyRecords(new MemoryStorageIo());
    const result = await wal.truncateAfter(10n);
    expect(sent(result)).toEqual({
      afterLsn: '10',
      recordsRemoved: '20',
      segmentsDeleted: result.segmentsDeleted,
    });
    await wal.close();
  });

  it("the recovery report's finishedCut, alone as well as in the report", async () => {
    // Power cut at each step of a cut in turn, until one leaves it for the next open to finish.
    for (let step = 0; step < 200; step++) {
      const memory = new MemoryStorageIo();
      const io = new PowerLossAtStep(memory, { at: step, armed: false });
      const wal = await thirtyRecords(io);
      io.arm();
      await wal.truncateAfter(10n).catch(() => {});
      const cutShort = io.cut;
      await io.crash({ tear: true });
      await wal.close();
      if (!cutShort) break;
      const writer = await SegmentedWal.open({ ...config, io: new FaultyStorageIo(memory) });
      const finished = writer.recoveryReport.finishedCut;
      await writer.close();
      if (finished === null) continue;
      expect(sent(finished)).toMatchObject({ afterLsn: '10' });
      expect(sent(writer.recoveryReport).finishedCut).toMatchObject({ afterLsn: '10' });
      return;
    }
    throw new Error('no power cut left a cut for the next open to finish');
  });
});
