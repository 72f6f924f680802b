import { CUT_FILE, encodeCut, FILE_HEADER_SIZE, type SuffixCut } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError, payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { writeFileAtomically } from '../files/log-files.js';
import { SegmentedWal } from '../index.js';

afterEach(removeTempDirs);

/** The CUT file of a cut that a writer started and has not finished: after `afterLsn`, as planned. */
const pendingCut = (afterLsn: bigint): SuffixCut => ({
  afterLsn,
  segmentFirstLsn: 1n,
  keepBytes: FILE_HEADER_SIZE,
  generation: 1n,
  state: 'pending',
});

describe('a read-only open while the log has an unfinished truncateAfter', () => {
  it('waits for the cut of a live writer to finish, then opens the cut log', async () => {
    const dir = tempDir('walnut-cut-wait-');
    const writer = await SegmentedWal.open({ dir });
    for (let lsn = 1n; lsn <= 10n; lsn++) writer.append({ payload: payloadFor(lsn) });
    await writer.sync();
    await writeFileAtomically(writer.io, dir, CUT_FILE, encodeCut(pendingCut(5n)));

    const opening = SegmentedWal.open({ dir, readOnly: true });
    await new Promise((resolve) => setTimeout(resolve, 30));
    await writer.truncateAfter(5n);
    const reader = await opening;
    expect(reader.nextLsn).toBe(6n);
    await reader.close();
    await writer.close();
  });

  it('is refused at once when the writer that was cutting is gone, saying how to finish the cut', async () => {
    const io = new MemoryStorageIo();
    const dir = '/log';
    const writer = await SegmentedWal.open({ dir, io });
    for (let lsn = 1n; lsn <= 10n; lsn++) writer.append({ payload: payloadFor(lsn) });
    await writer.sync();
    await writer.close();
    await writeFileAtomically(io, dir, CUT_FILE, encodeCut(pendingCut(0n)));

    const error = await expectWalError(
      SegmentedWal.open({ dir, io, readOnly: true }),
      'WAL_BAD_STATE',
    );
    expect(error.message).toMatch(
      /truncateAfter\(0\) that has not finished: the writer that was cutting the log is gone .* open the log once without readOnly/,
    );
    await (await SegmentedWal.open({ dir, io })).close();
    const reader = await SegmentedWal.open({ dir, io, readOnly: true });
    expect(reader.nextLsn).toBe(1n);
    await reader.close();
  });
});
