import { SegmentedWal } from '@walnut/segmented';
import { ExitCode } from '../exit-codes.js';
import { printJson } from '../json.js';
import { requireLogDirectory } from '../logdir/directory.js';
import { encryptedLogError, firstEncryptedSegment } from '../logdir/encrypted.js';
import { type Output, printLine } from '../output.js';

export type TruncateOptions =
  | { readonly after: bigint; readonly json?: boolean }
  | { readonly before: bigint; readonly json?: boolean };

/**
 * `walnut truncate <dir> --after N | --before N`: the log's own truncateAfter (a durable
 * suffix cut: the records after N are gone, the next append gets N + 1) or truncateBefore
 * (the sealed segments wholly below N are deleted, the floor rises), through a writer that
 * takes the log's lock (WAL_LOCKED while another process writes it).
 */
export async function truncateCommand(
  dir: string,
  options: TruncateOptions,
  out: Output,
): Promise<number> {
  // Opening the log decrypts its newest segment: without a key the library would refuse
  // with advice about reading records.
  const encrypted = await firstEncryptedSegment(await requireLogDirectory(dir));
  if (encrypted !== null)
    throw encryptedLogError(dir, encrypted.segment, encrypted.keyId, 'truncate');
  const wal = await SegmentedWal.open({ dir });
  try {
    if ('after' in options) {
      const cut = await wal.truncateAfter(options.after);
      if (options.json) printJson(out.stdout, { dir, ...cut, nextLsn: wal.nextLsn });
      else if (cut.recordsRemoved === 0n) {
        printLine(out.stdout, `Nothing to cut: ${dir} ends at LSN ${cut.afterLsn}.`);
      } else {
        printLine(
          out.stdout,
          `Cut ${dir} after LSN ${cut.afterLsn}: ${cut.recordsRemoved} record(s) removed, ${cut.segmentsDeleted} segment(s) deleted; the next append gets LSN ${wal.nextLsn}.`,
        );
      }
      return ExitCode.OK;
    }
    const result = await wal.truncateBefore(options.before);
    if (options.json) printJson(out.stdout, { dir, ...result, floorLsn: wal.floorLsn });
    else {
      printLine(
        out.stdout,
        `Deleted ${result.segmentsDeleted} segment(s) below LSN ${options.before} (${result.bytesReclaimed} bytes); the log now starts at LSN ${wal.floorLsn}.`,
      );
    }
    return ExitCode.OK;
  } finally {
    await wal.close();
  }
}
