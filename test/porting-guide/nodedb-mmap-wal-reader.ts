// #region guide
import { listSegmentFiles, MmapWalReader, replaySegmentsMmap } from '@walnut/mmap-reader';
// #endregion guide

/** nodedb-wal `MmapWalReader` → `@walnut/mmap-reader` `MmapWalReader` (docs/porting.md). */
export async function mmapReaderExample(dir: string) {
  // #region guide
  const [oldest] = listSegmentFiles(dir); // sealed segments only: never one being written
  const reader = MmapWalReader.open(oldest!.path); // synchronous, like the original
  const lsns: bigint[] = [];
  for (let record = reader.nextRecord(); record !== null; record = reader.nextRecord()) {
    lsns.push(record.lsn);
    record.payload.reverse(); // a zero-copy view, yet writable: the file never sees this
  }
  const stop = reader.stopReason; // null from nextRecord() alone can't tell end from damage
  const released = reader.releasePages(); // a boolean: whether the kernel took the hint
  reader.close();

  const summary = await replaySegmentsMmap(dir, 1n, () => {}); // every sealed segment
  // #endregion guide
  return { lsns, stop, released, summary, length: reader.length, offset: reader.offset };
}
