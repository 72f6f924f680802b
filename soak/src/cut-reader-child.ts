/**
 * A reader of the cut-readers phase: follows the log a `cut-writer-child` writes with a
 * read-only `Wal` of the BUILT @walnut/wal, in a process of its own, and checks every record
 * it is handed: its LSN follows the one before, and it names the CRC32C of the record before
 * it (one history, `chain.ts`). `WAL_TRUNCATED` (a cut) resumes after `details.lsn`;
 * `WAL_REPLAY_BELOW_FLOOR` (retention) at the floor; any other error is counted by code, and
 * the reader opens the log again. Told `stop` on stdin it prints its tally as one JSON line.
 *
 * Usage: node cut-reader-child.js '<json { dir }>'
 */
import { isWalError, Wal, WalErrorCode } from '@walnut/wal';
import { readChain } from './chain.js';

export interface ReaderTally {
  /** Records handed out and checked. */
  records: number;
  /** Records handed out again with the same LSN and bytes (read twice for nothing). */
  rereads: number;
  /** Tails started. */
  reads: number;
  /** `details.lsn` of every WAL_TRUNCATED. */
  truncatedAt: string[];
  /** Errors by code while reading (WAL_TRUNCATED and WAL_REPLAY_BELOW_FLOOR included). */
  errors: Record<string, number>;
  /** Errors by code of read-only opens. */
  openErrors: Record<string, number>;
  /** A few messages of errors other than WAL_TRUNCATED and WAL_REPLAY_BELOW_FLOOR. */
  samples: string[];
  violations: string[];
}

const { dir } = JSON.parse(process.argv[2]!) as { dir: string };
setTimeout(() => process.exit(3), 15 * 60_000).unref();
const stop = new AbortController();
process.stdin.on('data', () => stop.abort());
process.stdin.on('end', () => stop.abort());

const tally: ReaderTally = {
  records: 0,
  rereads: 0,
  reads: 0,
  truncatedAt: [],
  errors: {},
  openErrors: {},
  samples: [],
  violations: [],
};
/** CRC32C of the recent records handed out, by LSN. */
const seen = new Map<bigint, number>();
let prev: { lsn: bigint; crc: number } | null = null;
/** Where the next tail starts when there is no `prev` to go on from (0n: the floor). */
let resume = 0n;

const bump = (counts: Record<string, number>, code: string) => {
  counts[code] = (counts[code] ?? 0) + 1;
};
const sample = (error: unknown) => {
  if (tally.samples.length < 20) tally.samples.push(`${codeOf(error)} ${String(error)}`);
};
const codeOf = (error: unknown) => (error as { code?: string })?.code ?? 'not a WalError';
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

function check(lsn: bigint, payload: Uint8Array): void {
  const chain = readChain(payload);
  if (chain.lsn !== lsn) {
    tally.violations.push(`LSN ${lsn} holds the record written as LSN ${chain.lsn}`);
  }
  if (prev !== null) {
    if (lsn !== prev.lsn + 1n) tally.violations.push(`LSN ${lsn} handed out after ${prev.lsn}`);
    else if (chain.prevCrc !== prev.crc) {
      tally.violations.push(`LSN ${lsn} is of another history than LSN ${prev.lsn} before it`);
    }
  }
  if (seen.get(lsn) === chain.crc) tally.rereads++;
  seen.set(lsn, chain.crc);
  if (seen.size > 50_000) for (const key of [...seen.keys()].slice(0, 25_000)) seen.delete(key);
  prev = { lsn, crc: chain.crc };
  tally.records++;
}

async function open(): Promise<Wal | null> {
  while (!stop.signal.aborted) {
    try {
      return await Wal.open(dir).readOnly().build();
    } catch (error) {
      // A cut a killed writer left unfinished: refused until the next writer finishes it.
      const crashedCut =
        isWalError(error, WalErrorCode.BAD_STATE) &&
        /the writer that was cutting the log is gone/.test(error.message);
      bump(
        tally.openErrors,
        crashedCut ? `${codeOf(error)} (cut of a killed writer)` : codeOf(error),
      );
      if (!crashedCut) sample(error);
      await pause(20);
    }
  }
  return null;
}

while (!stop.signal.aborted) {
  const wal = await open();
  if (wal === null) break;
  try {
    while (!stop.signal.aborted) {
      const from: bigint = prev === null ? resume : prev.lsn + 1n;
      tally.reads++;
      try {
        for await (const record of wal.tail(from, { signal: stop.signal })) {
          check(record.lsn, record.payload);
        }
      } catch (error) {
        // Told to stop: the tail rejects with the signal's reason, which is no reader error.
        if (stop.signal.aborted) break;
        const code = codeOf(error);
        bump(tally.errors, code);
        if (isWalError(error, WalErrorCode.TRUNCATED)) {
          const kept = error.details.lsn!;
          tally.truncatedAt.push(String(kept));
          if (prev !== null && kept < prev.lsn) {
            const crc = seen.get(kept);
            prev = crc === undefined ? null : { lsn: kept, crc };
            resume = kept + 1n;
          }
        } else if (isWalError(error, WalErrorCode.REPLAY_BELOW_FLOOR)) {
          // Retention deleted what was being read: read on from the floor, or from where
          // this reader got to if that is still kept.
          const floor = error.details.floorLsn ?? 0n;
          if (prev === null || prev.lsn + 1n < floor) {
            prev = null;
            resume = floor;
          }
        } else {
          sample(error);
          // A new opener cannot know what this one handed out: no chain across them.
          if (prev !== null) resume = prev.lsn + 1n;
          prev = null;
          throw error;
        }
      }
    }
  } catch {
    // Counted above: read on with a new opener, from where this one got to.
  } finally {
    await wal.close().catch(() => undefined);
  }
}
process.stdout.write(`${JSON.stringify(tally)}\n`);
process.exit(0);
