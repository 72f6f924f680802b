// #region guide
import { join } from 'node:path';
import { PortableWalWriter } from '@walnut/portable';
// #endregion guide

/** rivven-core `PortableWalWriter` → `@walnut/portable` `PortableWalWriter` (docs/porting.md). */
export async function portableExample(dir: string) {
  // #region guide
  const path = join(dir, 'wal.log');
  const log = await PortableWalWriter.open(path, { content: 'raw', maxBatchBytes: 1 << 20 });
  const at = await log.append(Buffer.from('entry1')); // 64: after the file header (rivven: 0)
  await log.appendBatched(Buffer.from('entry2')); // resolves with the pending bytes: 6
  const pending = await log.appendBatched(Buffer.from('entry3')); // 12
  await log.flushBatch(); // both writes, then ONE fdatasync
  const framed = await log.appendWithChecksum(Buffer.from('entry4')); // a Walnut record frame
  await log.sync(); // exactly one fdatasync
  const { size } = log; // header + 18 raw bytes + the frame
  await log.close();

  // Without content: 'raw' a file holds only checksummed records, and append() is refused.
  const records = await PortableWalWriter.open(join(dir, 'records.wal'));
  const refused = await records.append(Buffer.from('raw')).catch((e: { code: string }) => e.code);
  await records.appendWithChecksum(Buffer.from('one')); // LSN 1; opening again checks every CRC
  await records.close();
  // #endregion guide
  return { at, pending, framed, size, refused };
}
