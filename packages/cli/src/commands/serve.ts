import { serve } from '@walnut/serve';
import { ExitCode } from '../exit-codes.js';
import { type Output, printLine } from '../output.js';

export interface ServeCommandOptions {
  /** Interface to listen on (default 127.0.0.1). */
  readonly host?: string;
  /** Port (default 0: a free one). */
  readonly port?: number;
  /** Aborted on SIGTERM or SIGINT: the server drains and the command ends. */
  readonly signal: AbortSignal;
}

/**
 * `walnut serve <dir>`: the Durable Streams protocol over the streams log in `dir`. The
 * first line of stdout is the base URL, so a script can read where to connect; streams are
 * under `/v1/stream/`. It serves until `signal` aborts, then drains and exits 0.
 */
export async function serveCommand(
  dir: string,
  options: ServeCommandOptions,
  out: Output,
): Promise<number> {
  const server = await serve(dir, {
    ...(options.host !== undefined ? { host: options.host } : {}),
    ...(options.port !== undefined ? { port: options.port } : {}),
  });
  printLine(out.stdout, server.url);
  printLine(out.stderr, `walnut: serving ${dir} at ${server.url}/v1/stream/ (Ctrl-C to stop)`);
  if (!options.signal.aborted) {
    await new Promise((resolve) =>
      options.signal.addEventListener('abort', resolve, { once: true }),
    );
  }
  await server.close();
  printLine(out.stderr, 'walnut: drained and stopped');
  return ExitCode.OK;
}
