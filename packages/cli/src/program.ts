import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { benchCommand } from './commands/bench.js';
import { cursorsCommand } from './commands/cursors.js';
import { dumpCommand } from './commands/dump.js';
import { inspectCommand } from './commands/inspect.js';
import { repairCommand } from './commands/repair.js';
import { addReplicationCommands } from './commands/replication.js';
import { serveCommand } from './commands/serve.js';
import { streamsCommand } from './commands/streams.js';
import { tailCommand } from './commands/tail.js';
import { truncateCommand } from './commands/truncate.js';
import { verifyCommand } from './commands/verify.js';
import { demoCommand } from './demo/demo.js';
import { exitCodeFor, reportError, UsageError } from './errors.js';
import { ExitCode } from './exit-codes.js';
import { type Output, processOutput } from './output.js';
import { parseCount, parseLsn, parseTime } from './records.js';

const EXIT_CODES_HELP = `
Exit codes:
  0  success, nothing wrong found
  1  corruption found, or a verification failed
  2  usage error (unknown command or option, bad argument, a directory that is not a log)
  3  the log or the system refused (a WalError such as WAL_LOCKED or WAL_IO), or another failure
  130  stopped by Ctrl-C (tail -f)
`;

/** The version of this package (dist/ and src/ both sit one level below package.json). */
function cliVersion(): string {
  return (createRequire(import.meta.url)('../package.json') as { version: string }).version;
}

/**
 * Runs the walnut command line and resolves with the exit code. `argv` is what follows
 * `walnut` (`process.argv.slice(2)`: `['verify', './log']`). It never calls process.exit,
 * so tests can run it in-process; `makeOutput` lets them capture output.
 */
export async function runCli(
  argv: readonly string[],
  makeOutput: (debug: boolean) => Output = processOutput,
): Promise<number> {
  const debug = argv.includes('--debug');
  const out = makeOutput(debug);
  let exitCode: number = ExitCode.OK;
  const run =
    <A extends unknown[]>(action: (...args: A) => Promise<number>) =>
    async (...args: A) => {
      exitCode = await action(...args);
    };

  const program = new Command('walnut')
    .description('Walnut write-ahead log: try it, look inside a log, check and repair it.')
    .version(cliVersion(), '-V, --version', 'print the version of walnut')
    .option('--debug', 'print stack traces with errors')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText('after', EXIT_CODES_HELP)
    .configureOutput({
      writeOut: (s) => out.stdout.write(s),
      writeErr: (s) => out.stderr.write(s),
    })
    .exitOverride();

  program
    .command('demo')
    .description(
      'durable ingest with 64 producers and group commit, a real crash (SIGKILL) of a writer, then recovery and verification of every acknowledged record',
    )
    .argument(
      '[dir]',
      'directory for the demo logs (default: a fresh directory under the OS temp dir)',
    )
    .option('--seconds <n>', 'length of the ingest phase', '6')
    .option('--producers <n>', 'concurrent producers', '64')
    .option('--record-size <bytes>', 'payload size of each record', '512')
    .option('--crash-after-ms <n>', 'how long the crash writer writes before SIGKILL', '2000')
    .option('--json', 'print the summary as JSON')
    .action(
      run((dir: string | undefined, o: Record<string, string | boolean>) =>
        demoCommand(
          {
            dir,
            seconds: parseCount(String(o.seconds), '--seconds', 1),
            producers: parseCount(String(o.producers), '--producers', 1),
            recordSize: parseCount(String(o.recordSize), '--record-size', 8),
            crashAfterMs: parseCount(String(o.crashAfterMs), '--crash-after-ms', 1),
            json: o.json === true,
          },
          out,
        ),
      ),
    );

  program
    .command('inspect')
    .description('segments, LSN ranges, sizes, encryption, floor and lock holder of a log')
    .argument('<dir>', 'log directory')
    .option('--json', 'print JSON')
    .action(
      run((dir: string, o: { json?: boolean }) =>
        inspectCommand(dir, { json: o.json === true }, out),
      ),
    );

  program
    .command('cursors')
    .description(
      'the durable cursors of a log: committed LSN and whether retention passed them; --delete one',
    )
    .argument('<dir>', 'log directory')
    .option('--delete <name>', 'delete this cursor (refused while a consumer holds it open)')
    .option('--json', 'print JSON')
    .action(
      run((dir: string, o: { delete?: string; json?: boolean }) =>
        cursorsCommand(
          dir,
          { json: o.json === true, ...(o.delete !== undefined ? { delete: o.delete } : {}) },
          out,
        ),
      ),
    );

  program
    .command('dump')
    .description('print records in LSN order, as text or JSON lines')
    .argument('<dir>', 'log directory')
    .option('--from <lsn>', 'first LSN to print (default: the retained floor)')
    .option(
      '--since <time>',
      'only records appended at or after this time (ISO 8601 or ms since the epoch)',
    )
    .option('--limit <n>', 'print at most n records')
    .option('--json', 'print one JSON object per line')
    .action(
      run((dir: string, o: { from?: string; since?: string; limit?: string; json?: boolean }) =>
        dumpCommand(
          dir,
          {
            ...(o.from !== undefined ? { from: parseLsn(o.from, '--from') } : {}),
            ...(o.since !== undefined ? { since: parseTime(o.since, '--since') } : {}),
            ...(o.limit !== undefined ? { limit: parseCount(o.limit, '--limit') } : {}),
            json: o.json === true,
          },
          out,
        ),
      ),
    );

  program
    .command('streams')
    .description(
      "the streams of a @walnut/streams log (tail offset, bytes, expiry, closed, producers), or one stream's records",
    )
    .argument('<dir>', 'log directory')
    .argument('[name]', "print this stream's records (offset and payload) instead")
    .option('--from <offset>', 'with a name: first offset to print (default 0)')
    .option('--limit <n>', 'with a name: print at most n records')
    .option('--json', 'print JSON (one object per line for records)')
    .action(
      run(
        (
          dir: string,
          name: string | undefined,
          o: { from?: string; limit?: string; json?: boolean },
        ) =>
          streamsCommand(
            dir,
            {
              ...(name !== undefined ? { name } : {}),
              ...(o.from !== undefined ? { from: parseCount(o.from, '--from') } : {}),
              ...(o.limit !== undefined ? { limit: parseCount(o.limit, '--limit') } : {}),
              json: o.json === true,
            },
            out,
          ),
      ),
    );

  program
    .command('verify')
    .description('check every frame; exit 1 on corruption, naming segment and offset')
    .argument('<dir>', 'log directory')
    .option('--json', 'print the findings as JSON')
    .action(
      run((dir: string, o: { json?: boolean }) =>
        verifyCommand(dir, { json: o.json === true }, out),
      ),
    );

  program
    .command('repair')
    .description(
      'cut a torn tail (and with --salvage give up damaged stretches and missing segments, keeping every intact record); copies what it changes aside first',
    )
    .argument('<dir>', 'log directory')
    .option(
      '--salvage',
      'also give up damaged stretches and missing segments, keeping every intact record and recording the lost LSNs',
    )
    .option('--backup-dir <path>', 'where to copy files before changing them')
    .option('--json', 'print the result as JSON')
    .action(
      run((dir: string, o: { salvage?: boolean; backupDir?: string; json?: boolean }) =>
        repairCommand(
          dir,
          {
            salvage: o.salvage === true,
            json: o.json === true,
            ...(o.backupDir !== undefined ? { backupDir: o.backupDir } : {}),
          },
          out,
        ),
      ),
    );

  program
    .command('truncate')
    .description(
      'cut the log: --after N removes every record after LSN N durably (the next append gets N + 1); --before N deletes the sealed segments wholly below LSN N',
    )
    .argument('<dir>', 'log directory')
    .option('--after <lsn>', 'keep the records up to this LSN (0 removes every record)')
    .option('--before <lsn>', 'delete whole sealed segments below this LSN')
    .option('--json', 'print the result as JSON')
    .action(
      run((dir: string, o: { after?: string; before?: string; json?: boolean }) => {
        if ((o.after === undefined) === (o.before === undefined)) {
          throw new UsageError('truncate needs exactly one of --after <lsn> and --before <lsn>');
        }
        const json = o.json === true;
        return truncateCommand(
          dir,
          o.after !== undefined
            ? { after: o.after === '0' ? 0n : parseLsn(o.after, '--after'), json }
            : { before: parseLsn(o.before!, '--before'), json },
          out,
        );
      }),
    );

  program
    .command('tail')
    .description('print the last records; with -f keep printing new ones as they are written')
    .argument('<dir>', 'log directory')
    .option('-f, --follow', 'keep following the log (Ctrl-C to stop)')
    .option('-n, --lines <n>', 'how many of the last records to print first', '10')
    .option('--json', 'print one JSON object per line')
    .action(
      run(async (dir: string, o: { follow?: boolean; lines: string; json?: boolean }) => {
        const stop = new AbortController();
        const onSigint = () => stop.abort();
        process.once('SIGINT', onSigint);
        try {
          const code = await tailCommand(
            dir,
            {
              follow: o.follow === true,
              lines: parseCount(o.lines, '--lines'),
              json: o.json === true,
              signal: stop.signal,
            },
            out,
          );
          return stop.signal.aborted ? ExitCode.INTERRUPTED : code;
        } finally {
          process.off('SIGINT', onSigint);
        }
      }),
    );

  program
    .command('serve')
    .description(
      'serve the Durable Streams HTTP protocol over a streams log (under /v1/stream/); prints the base URL first, drains on SIGTERM or Ctrl-C',
    )
    .argument('<dir>', 'streams log directory (created if need be)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <n>', 'port (0: a free one)', '0')
    .action(
      run(async (dir: string, o: { host: string; port: string }) => {
        const port = parseCount(o.port, '--port');
        if (port > 65535) throw new UsageError(`--port must be at most 65535, got ${port}`);
        const stop = new AbortController();
        const onSignal = () => stop.abort();
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        try {
          return await serveCommand(dir, { host: o.host, port, signal: stop.signal }, out);
        } finally {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        }
      }),
    );

  program
    .command('bench')
    .description('run the Walnut benchmark workloads (Walnut alone, no peers)')
    .option('--quick', 'a short run (seconds, not minutes)')
    .option('--dir <path>', 'where to write (default: a temp directory, removed afterwards)')
    .option('--json', 'print results as JSON')
    .addOption(new Option('--workload <names...>', 'only these workloads'))
    .action(
      run((o: { quick?: boolean; dir?: string; json?: boolean; workload?: string[] }) =>
        benchCommand(
          {
            quick: o.quick === true,
            json: o.json === true,
            ...(o.dir !== undefined ? { dir: o.dir } : {}),
            ...(o.workload !== undefined ? { workloads: o.workload } : {}),
          },
          out,
        ),
      ),
    );

  addReplicationCommands(program, run, out);

  for (const command of program.commands) {
    command.option('--debug', 'print stack traces with errors');
    command.addHelpText('after', EXIT_CODES_HELP).showHelpAfterError('(run with --help for usage)');
  }

  try {
    await program.parseAsync(argv as string[], { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      return error.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
    }
    reportError(out, error);
    return exitCodeFor(error);
  }
}
