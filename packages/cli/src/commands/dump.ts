import { SegmentedWal } from '@walnut/segmented';
import { ExitCode } from '../exit-codes.js';
import { requireLogDirectory } from '../logdir/directory.js';
import { encryptedLogError, firstEncryptedSegment } from '../logdir/encrypted.js';
import { type Output, printLine } from '../output.js';
import { recordJson, recordLine } from '../records.js';

export interface DumpOptions {
  /** First LSN to print (default: the retained floor). */
  readonly from?: bigint;
  /** Only records appended at or after this time, ms since the epoch (found by `lsnAtTime`). */
  readonly since?: number;
  /** At most this many records (default: all). */
  readonly limit?: number;
  readonly json?: boolean;
}

/**
 * `walnut dump <dir>`: the records of a log in LSN order, as text or JSON lines. It opens
 * the log read-only through @walnut/segmented, so it reads exactly what an application
 * replaying the log would, floor included, and works beside a running writer.
 */
export async function dumpCommand(dir: string, options: DumpOptions, out: Output): Promise<number> {
  const encrypted = await firstEncryptedSegment(await requireLogDirectory(dir));
  if (encrypted !== null) throw encryptedLogError(dir, encrypted.segment, encrypted.keyId, 'dump');
  const wal = await SegmentedWal.open({ dir, readOnly: true });
  try {
    let from = options.from ?? wal.floorLsn;
    if (options.since !== undefined) {
      const at = await wal.lsnAtTime(options.since);
      if (at > from) from = at;
    }
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    let printed = 0;
    if (limit > 0) {
      for await (const record of wal.replayFrom(from)) {
        printLine(out.stdout, options.json ? recordJson(record) : recordLine(record));
        if (++printed >= limit) break;
      }
    }
    if (!options.json && printed === 0) {
      const since =
        options.since === undefined
          ? ''
          : ` (the first at or after ${new Date(options.since).toISOString()})`;
      printLine(out.stderr, `no records from LSN ${from}${since}`);
    }
    return ExitCode.OK;
  } finally {
    await wal.close();
  }
}
