import { closeSync, openSync, writeSync } from 'node:fs';
import { encodeRecordFrame, recordFrameSize } from '@walnut/codec';
import { expectWalError, payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { collect } from '../test/helpers.js';
import { SegmentedWal, type SegmentInfo } from './index.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('walnut-ro-open-');
});
afterEach(removeTempDirs);

const lsnsOf = async (wal: SegmentedWal) => (await collect(wal.replay())).map((r) => r.lsn);

/**
 * Writes records `from`..`from + 5` into segment `last` one frame past its written end, and
 * zeros after them, leaving zeros where record `from - 1` goes: what a reader sees while the
 * writer's later writes completed before an earlier one, in a segment zero-filled ahead.
 */
function landOutOfOrder(last: SegmentInfo, from: bigint): void {
  const frames: Buffer[] = [];
  for (let lsn = from; lsn < from + 6n; lsn++) {
    const frame = Buffer.alloc(recordFrameSize({ payload: payloadFor(lsn) }));
    encodeRecordFrame(frame, 0, lsn, { payload: payloadFor(lsn) });
    frames.push(frame);
  }
  frames.push(Buffer.alloc(8192));
  const bytes = Buffer.concat(frames);
  const skipped = recordFrameSize({ payload: payloadFor(from - 1n) });
  const fd = openSync(last.path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, last.writtenBytes! + skipped);
  } finally {
    closeSync(fd);
  }
}

describe('a read-only open beside a live writer', () => {
  it('ends the log at the writer frontier, not at damage, when a later write landed first', async () => {
    const writer = await SegmentedWal.open({ dir });
    for (let lsn = 1n; lsn <= 5n; lsn++) writer.append({ payload: payloadFor(lsn) });
    await writer.sync();
    landOutOfOrder((await writer.listSegments()).at(-1)!, 7n);
    const reader = await SegmentedWal.open({ dir, readOnly: true });
    expect(await lsnsOf(reader)).toEqual([1n, 2n, 3n, 4n, 5n]);
    expect(reader.recoveryReport.tornTail).toBeNull();
    expect(reader.recoveryReport.salvaged).toEqual([]);
    await reader.close();
    await writer.close();
  });

  it('still finds damage in the last segment when no writer holds the log', async () => {
    const writer = await SegmentedWal.open({ dir });
    for (let lsn = 1n; lsn <= 5n; lsn++) writer.append({ payload: payloadFor(lsn) });
    await writer.sync();
    const last = (await writer.listSegments()).at(-1)!;
    await writer.close();
    // A byte of record 2's payload flipped: valid records follow the damage.
    const fd = openSync(last.path, 'r+');
    const frameBytes = recordFrameSize({ payload: payloadFor(1n) });
    writeSync(fd, Buffer.from([0xff]), 0, 1, last.writtenBytes! - 4 * frameBytes + 30);
    closeSync(fd);
    await expectWalError(SegmentedWal.open({ dir, readOnly: true }), 'WAL_CORRUPT');
  });
});
