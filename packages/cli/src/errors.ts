import { isWalError, WalError, WalErrorCode } from '@walnut/codec';
import { ExitCode } from './exit-codes.js';
import { type Output, printLine } from './output.js';

/**
 * A wrong command line that commander cannot see (e.g. a malformed LSN), or a directory
 * that is not a log. Exit code 2, printed without a code; a WalError all the same, since
 * the commands are exported functions too (`checkLog` of a missing directory).
 */
export class UsageError extends WalError {
  constructor(message: string, code: WalErrorCode = WalErrorCode.BAD_ARGUMENT) {
    super(code, message);
  }
}

/** What a person at the terminal can do about each error, beyond the library's message. */
const HINTS: Partial<Record<WalErrorCode, string>> = {
  WAL_CORRUPT:
    'Run `walnut verify <dir>` to see every damaged place, then `walnut repair <dir> --salvage` to keep what is intact (it backs up what it changes first).',
  WAL_MISSING_SEGMENT:
    'A segment file between the first and the last is gone. Restore it from a backup; `walnut inspect <dir>` shows the gap.',
  WAL_LOCKED:
    'Another process is writing this log. `walnut inspect <dir>` names the lock holder; read-only commands (inspect, dump, verify, tail) work while it runs.',
  WAL_UNSUPPORTED_FORMAT: 'This log was written by a newer Walnut; upgrade @walnut/cli.',
  WAL_REPLAY_BELOW_FLOOR:
    'Those records were truncated on purpose. Start at the floor shown by `walnut inspect <dir>`.',
  WAL_NO_SPACE: 'The disk is full. Free space and run the command again.',
  WAL_IO: 'The operating system refused an I/O operation; check the path, permissions and disk.',
  WAL_POISONED:
    'An fsync failed, so the log refuses to continue. Reopen it (run the command again).',
  WAL_KEY_MISSING:
    '`walnut inspect` and `walnut verify` check an encrypted log without the key; read its records from code, opening it with its KeyRing (Wal.open(dir).encryption(ring)).',
  WAL_DECRYPT_FAILED: 'Wrong key, or the encrypted data was tampered with.',
  WAL_BACKEND_UNAVAILABLE:
    'Choose another storage backend, e.g. WALNUT_STORAGE_IO=sync-fs walnut <command>.',
  WAL_BAD_ARGUMENT: 'Check the command line (`walnut <command> --help`).',
};

const CORRUPTION_CODES = new Set<string>(['WAL_CORRUPT', 'WAL_MISSING_SEGMENT']);

export function exitCodeFor(error: unknown): number {
  if (error instanceof UsageError) return ExitCode.USAGE;
  if (isWalError(error) && CORRUPTION_CODES.has(error.code)) return ExitCode.CORRUPTION;
  return ExitCode.FAILURE;
}

/**
 * Prints an error the way a user should see it: the WalError code, the message, where it
 * happened and what to do — and a stack trace only with --debug.
 */
export function reportError(out: Output, error: unknown): void {
  if (error instanceof UsageError) {
    printLine(out.stderr, `walnut: ${error.message}`);
  } else if (isWalError(error)) {
    printLine(out.stderr, `walnut: ${error.code}: ${error.message}`);
    const where = describeWhere(error);
    if (where) printLine(out.stderr, `  at ${where}`);
    const hint = HINTS[error.code];
    // WAL_IO is also a network failure (replication's NATS connection), whose message says
    // what to check: the file-system hint is for errors of a system call on a file.
    const onFile = error.code !== WalErrorCode.IO || error.details.syscall !== undefined;
    if (hint && onFile) printLine(out.stderr, `  ${hint}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    printLine(out.stderr, `walnut: ${message}`);
    if (!out.debug) printLine(out.stderr, '  Run again with --debug for the stack trace.');
  }
  if (out.debug && error instanceof Error && error.stack) printLine(out.stderr, error.stack);
}

function describeWhere(error: WalError): string | null {
  const { segment, offset, errno, syscall } = error.details;
  const parts: string[] = [];
  if (segment !== undefined) parts.push(`segment ${segment}`);
  if (offset !== undefined) parts.push(`offset ${offset}`);
  if (syscall !== undefined)
    parts.push(`${syscall}${errno !== undefined ? ` (errno ${errno})` : ''}`);
  return parts.length > 0 ? parts.join(', ') : null;
}
