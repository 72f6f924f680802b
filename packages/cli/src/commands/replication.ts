import type { Command } from 'commander';
import { ExitCode } from '../exit-codes.js';
import { type Output, printLine } from '../output.js';
import { parseLsn } from '../records.js';
import { loadReplicate } from './load-replicate.js';

export interface FollowOptions {
  readonly servers: string[];
  readonly stream: string;
  /** Stop once this LSN is applied (default: follow until the signal aborts). */
  readonly until?: bigint;
  readonly json?: boolean;
  /** Stops following (the bin wires SIGINT to it). */
  readonly signal?: AbortSignal;
  /** How often progress is printed. Default 1000 ms. */
  readonly progressMs?: number;
}

/**
 * `walnut follow <dir>`: keeps `dir` a replica of a replicated log (@walnut/replicate):
 * every record of the stream, appended at its own LSN and fsynced, printing the applied
 * LSN as it moves. Ends on Ctrl-C or once `--until` is applied.
 */
export async function followCommand(
  dir: string,
  options: FollowOptions,
  out: Output,
): Promise<number> {
  const { Follower } = await loadReplicate('follow');
  const follower = await Follower.open(dir, { servers: options.servers, stream: options.stream });
  const report = (event: string) => {
    const s = follower.stats();
    if (options.json) {
      printLine(
        out.stdout,
        JSON.stringify({
          event,
          stream: s.stream,
          appliedLsn: s.appliedLsn.toString(),
          epoch: s.epoch,
          streamSeq: s.streamSeq,
          messages: s.messages,
          staleMessages: s.staleMessages,
          restoredRecords: s.restoredRecords,
          reconnects: s.reconnects,
          holesMet: s.holesMet,
          lastError: s.lastError,
          failed: s.failed,
        }),
      );
    } else {
      printLine(
        out.stdout,
        `${event}: ${dir} follows '${s.stream}', applied LSN ${s.appliedLsn} (epoch ${s.epoch}${s.restoredRecords > 0 ? `, ${s.restoredRecords} records restored from the object store` : ''}${s.staleMessages > 0 ? `, ${s.staleMessages} older-epoch messages skipped` : ''}${s.holesMet > 0 ? `, ${s.holesMet} copies with a hole consumed past` : ''})`,
      );
    }
  };
  report('opened');
  let last = follower.appliedLsn;
  try {
    while (!options.signal?.aborted) {
      if (options.until !== undefined && follower.appliedLsn >= options.until) break;
      if (follower.error !== null) throw follower.error;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, options.progressMs ?? 1_000);
        function done() {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          resolve();
        }
        options.signal?.addEventListener('abort', done, { once: true });
      });
      if (follower.appliedLsn !== last) {
        last = follower.appliedLsn;
        report('applied');
      }
    }
    report('stopped');
  } finally {
    await follower.close();
  }
  return ExitCode.OK;
}

export interface PromoteOptions {
  readonly servers: string[];
  readonly stream: string;
  readonly mode?: 'sync' | 'async';
  readonly acceptLoss?: boolean;
  readonly json?: boolean;
}

/**
 * `walnut promote <dir>`: makes the replica in `dir` the primary — it takes the lease at
 * the next epoch, applies the whole stream and publishes the epoch marker, so the old
 * primary is fenced — then closes, leaving `dir` ready for `ReplicatedWal.open(dir)`.
 */
export async function promoteCommand(
  dir: string,
  options: PromoteOptions,
  out: Output,
): Promise<number> {
  const { Follower } = await loadReplicate('promote');
  const follower = await Follower.open(dir, { servers: options.servers, stream: options.stream });
  const primary = await follower
    .promote({
      ...(options.mode ? { mode: options.mode } : {}),
      ...(options.acceptLoss ? { acceptLoss: true } : {}),
    })
    .catch(async (error: unknown) => {
      await follower.close();
      throw error;
    });
  const result = { stream: primary.stream, epoch: primary.epoch, lastLsn: primary.lastLsn };
  await primary.close();
  if (options.json) {
    printLine(out.stdout, JSON.stringify({ ...result, lastLsn: result.lastLsn.toString() }));
  } else {
    printLine(
      out.stdout,
      `${dir} is now the primary of '${result.stream}' at epoch ${result.epoch} (last LSN ${result.lastLsn}); the old primary is fenced. Open it with ReplicatedWal.open.`,
    );
  }
  return ExitCode.OK;
}

export interface RejoinOptions {
  readonly servers: string[];
  readonly stream: string;
  readonly json?: boolean;
}

/**
 * `walnut rejoin <dir>`: makes a fenced primary's directory a follower of the new primary
 * (@walnut/replicate's `rejoin`): cuts the records the history never had, prints them (so
 * nothing is dropped unseen), checks the rest against the stream and closes, leaving
 * `dir` for `walnut follow`.
 */
export async function rejoinCommand(
  dir: string,
  options: RejoinOptions,
  out: Output,
): Promise<number> {
  const { rejoin } = await loadReplicate('rejoin');
  const { follower, cut } = await rejoin(dir, {
    servers: options.servers,
    stream: options.stream,
  });
  const appliedLsn = follower.appliedLsn;
  await follower.close();
  if (options.json) {
    for (const r of cut?.records ?? []) {
      printLine(
        out.stdout,
        JSON.stringify({
          event: 'cut',
          lsn: r.lsn.toString(),
          payload: Buffer.from(r.payload).toString('base64'),
          ...(r.meta !== undefined ? { meta: Buffer.from(r.meta).toString('base64') } : {}),
        }),
      );
    }
    printLine(
      out.stdout,
      JSON.stringify({
        event: 'rejoined',
        stream: options.stream,
        cut: cut === null ? null : { from: cut.from.toString(), to: cut.to.toString() },
        appliedLsn: appliedLsn.toString(),
      }),
    );
  } else {
    printLine(
      out.stdout,
      cut === null
        ? `${dir} is a follower of '${options.stream}' again (at LSN ${appliedLsn}); it held nothing beyond the stream's history. Run walnut follow ${dir} to catch up`
        : `${dir} is a follower of '${options.stream}' again (at LSN ${appliedLsn}); cut LSNs ${cut.from}–${cut.to}, ${cut.records.length} records only it held (--json prints them). Run walnut follow ${dir} to catch up`,
    );
  }
  return ExitCode.OK;
}

function servers(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Adds `follow`, `promote` and `rejoin` to the program. */
export function addReplicationCommands(
  program: Command,
  run: <A extends unknown[]>(
    action: (...args: A) => Promise<number>,
  ) => (...args: A) => Promise<void>,
  out: Output,
): void {
  program
    .command('follow')
    .description(
      'keep a directory a replica of a replicated log (NATS JetStream), printing the applied LSN',
    )
    .argument('<dir>', "the replica's log directory (created if missing)")
    .requiredOption('--servers <urls>', 'NATS server URLs, comma-separated')
    .requiredOption('--stream <name>', "the replicated log's stream name")
    .option('--until <lsn>', 'stop once this LSN is applied')
    .option('--json', 'print one JSON object per line')
    .action(
      run(
        async (
          dir: string,
          o: { servers: string; stream: string; until?: string; json?: boolean },
        ) => {
          const stop = new AbortController();
          const onSigint = () => stop.abort();
          process.once('SIGINT', onSigint);
          try {
            return await followCommand(
              dir,
              {
                servers: servers(o.servers),
                stream: o.stream,
                json: o.json === true,
                signal: stop.signal,
                ...(o.until !== undefined ? { until: parseLsn(o.until, '--until') } : {}),
              },
              out,
            );
          } finally {
            process.off('SIGINT', onSigint);
          }
        },
      ),
    );

  program
    .command('promote')
    .description('make a replica the primary of its replicated log; the old primary is fenced')
    .argument('<dir>', "the replica's log directory")
    .requiredOption('--servers <urls>', 'NATS server URLs, comma-separated')
    .requiredOption('--stream <name>', "the replicated log's stream name")
    .option(
      '--accept-loss',
      "promote even over a stream served short of the old primary's high-water mark, dropping what it lacks",
    )
    .option('--json', 'print the result as JSON')
    .action(
      run(
        (
          dir: string,
          o: { servers: string; stream: string; acceptLoss?: boolean; json?: boolean },
        ) =>
          promoteCommand(
            dir,
            {
              servers: servers(o.servers),
              stream: o.stream,
              acceptLoss: o.acceptLoss === true,
              json: o.json === true,
            },
            out,
          ),
      ),
    );

  program
    .command('rejoin')
    .description(
      "make a fenced primary's directory a follower again, cutting (and printing) what only it held",
    )
    .argument('<dir>', "the old primary's log directory")
    .requiredOption('--servers <urls>', 'NATS server URLs, comma-separated')
    .requiredOption('--stream <name>', "the replicated log's stream name")
    .option('--json', 'print each cut record, then the result, as JSON lines')
    .action(
      run((dir: string, o: { servers: string; stream: string; json?: boolean }) =>
        rejoinCommand(
          dir,
          { servers: servers(o.servers), stream: o.stream, json: o.json === true },
          out,
        ),
      ),
    );
}
