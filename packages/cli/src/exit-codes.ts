/**
 * The exit codes of every `walnut` command. Scripts may rely on them; they never change
 * meaning.
 */
export const ExitCode = {
  /** The command did what was asked and found nothing wrong. */
  OK: 0,
  /** Corruption was found, or a verification (demo, verify, repair) failed. */
  CORRUPTION: 1,
  /** The command line was wrong: unknown command or option, missing or bad argument. */
  USAGE: 2,
  /** The log or the system refused: a WalError (locked, I/O, no space, …) or another failure. */
  FAILURE: 3,
  /** Stopped by Ctrl-C (SIGINT), as a shell reports it: 128 + 2. */
  INTERRUPTED: 130,
} as const;

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];
