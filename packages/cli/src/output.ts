import type { Writable } from 'node:stream';

/**
 * Where a command writes. Commands never touch `process.stdout` directly, so tests can
 * run them in-process and read what they printed.
 */
export interface Output {
  /** Results: the data a script would pipe somewhere. */
  readonly stdout: Writable;
  /** Progress, notes and errors. */
  readonly stderr: Writable;
  /** True when stderr is an interactive terminal: progress bars instead of plain lines. */
  readonly interactive: boolean;
  /** Print stack traces with errors. */
  readonly debug: boolean;
}

export function processOutput(debug = false): Output {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    interactive: process.stderr.isTTY === true && process.env.CI === undefined,
    debug,
  };
}

export function printLine(stream: Writable, text = ''): void {
  stream.write(`${text}\n`);
}
