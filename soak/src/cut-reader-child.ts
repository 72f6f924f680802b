/**
 * A reader of the cut-readers phase, in a process of its own, beside the log a
 * `cut-writer-child` writes, through the BUILT packages. Its `kind` says how it reads:
 * - `wal`: tails of a read-only `Wal`;
 * - `mmap`: `replaySegmentsMmap` of the directory, again and again from where it got to;
 * - `tail`: `walnut tail -f --json` (the command's function, printing into this process).
 * Every record it is handed is checked (`ChainCheck`). `WAL_TRUNCATED` (a cut) resumes after
 * `details.lsn`; `WAL_REPLAY_BELOW_FLOOR` (retention) at the floor; any other error is counted
 * by code, and the reader starts again. Told `stop` on stdin it prints its tally as one JSON
 * line.
 *
 * Usage: node cut-reader-child.js '<json { dir, kind }>'
 */
import { Writable } from 'node:stream';
import { tailCommand } from '@walnut/cli';
import { crc32c } from '@walnut/codec';
import { replaySegmentsMmap } from '@walnut/mmap-reader';
import { isWalError, Wal, WalErrorCode } from '@walnut/wal';
import { ChainCheck, type CutReaderKind, codeOf } from './cut-reader-tally.js';

const { dir, kind } = JSON.parse(process.argv[2]!) as { dir: string; kind: CutReaderKind };
setTimeout(() => process.exit(3), 15 * 60_000).unref();
const stop = new AbortController();
process.stdin.on('data', () => stop.abort());
process.stdin.on('end', () => stop.abort());

const chain = new ChainCheck(kind);
const { tally } = chain;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function open(): Promise<Wal | null> {
  while (!stop.signal.aborted) {
    try {
      return await Wal.open(dir).readOnly().build();
    } catch (error) {
      // A cut a killed writer left unfinished: refused until the next writer finishes it.
      const crashedCut =
        isWalError(error, WalErrorCode.BAD_STATE) &&
        /the writer that was cutting the log is gone/.test(error.message);
      const code = crashedCut ? `${codeOf(error)} (cut of a killed writer)` : codeOf(error);
      tally.openErrors[code] = (tally.openErrors[code] ?? 0) + 1;
      if (!crashedCut) chain.sample(error);
      await pause(20);
    }
  }
  return null;
}

async function readWal(): Promise<void> {
  while (!stop.signal.aborted) {
    const wal = await open();
    if (wal === null) return;
    try {
      while (!stop.signal.aborted) {
        tally.reads++;
        // A tail knows nothing of the one before it: it starts at the last record handed
        // out, which must be the same one, so that a cut between the two is seen.
        let overlap = chain.last;
        try {
          for await (const record of wal.tail(overlap?.lsn ?? chain.from, {
            signal: stop.signal,
          })) {
            if (overlap !== null) {
              const same = chain.overlaps(record.lsn, crc32c(record.payload));
              overlap = null;
              if (same) continue;
            }
            chain.check(record.lsn, record.payload);
          }
        } catch (error) {
          // Told to stop: the tail rejects with the signal's reason, which is no reader error.
          if (stop.signal.aborted) return;
          // Any other error: read on with a new opener, from where this one got to.
          if (!chain.failed(error)) break;
        }
      }
    } finally {
      await wal.close().catch(() => undefined);
    }
  }
}

async function readMmap(): Promise<void> {
  // Each replay goes on from the one before as a user's would: in its cut generation.
  let cutGeneration: bigint | undefined;
  while (!stop.signal.aborted) {
    tally.reads++;
    try {
      const from = chain.from < 1n ? 1n : chain.from;
      const options = chain.chained && cutGeneration !== undefined ? { cutGeneration } : {};
      const summary = await replaySegmentsMmap(
        dir,
        from,
        (record) => chain.check(record.lsn, record.payload),
        options,
      );
      cutGeneration = summary.cutGeneration;
      // Sealed segments only: wait for the writer to seal the next one.
      if (summary.records === 0) await pause(20);
    } catch (error) {
      chain.failed(error);
      if (isWalError(error, WalErrorCode.TRUNCATED)) {
        cutGeneration = error.details.cutGeneration as bigint | undefined;
      }
    }
  }
}

/** One `walnut tail -f --json` run's stdout: each line a record, checked as it is printed. */
function recordLines(): Writable {
  let rest = '';
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      const parts = (rest + chunk.toString('utf8')).split('\n');
      rest = parts.pop()!;
      for (const line of parts) {
        const { lsn, payload } = JSON.parse(line) as { lsn: string; payload: string };
        chain.check(BigInt(lsn), Buffer.from(payload, 'base64'));
      }
      done();
    },
  });
}

async function readTail(): Promise<void> {
  while (!stop.signal.aborted) {
    tally.reads++;
    chain.restart();
    let stderr = '';
    const out = {
      stdout: recordLines(),
      stderr: new Writable({
        write(chunk: Buffer, _encoding, done) {
          stderr += chunk.toString('utf8');
          done();
        },
      }),
      interactive: false,
      debug: false,
    };
    try {
      const options = { follow: true, lines: 3, json: true, signal: stop.signal, pollMs: 10 };
      const exit = await tailCommand(dir, options, out);
      // The last records were shown and the damage found said on stderr (exit code 3).
      if (exit !== 0) chain.failed({ code: `exit ${exit}`, toString: () => stderr.trim() });
    } catch (error) {
      if (stop.signal.aborted) return;
      chain.failed(error);
    }
    await pause(10);
  }
}

await (kind === 'mmap' ? readMmap() : kind === 'tail' ? readTail() : readWal());
process.stdout.write(`${JSON.stringify(tally)}\n`);
process.exit(0);
