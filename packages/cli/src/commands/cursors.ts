import { checkCursorName, isWalError } from '@walnut/codec';
import { Wal } from '@walnut/wal';
import { UsageError } from '../errors.js';
import { ExitCode } from '../exit-codes.js';
import { formatTable } from '../format.js';
import { printJson } from '../json.js';
import { readCursors } from '../logdir/cursors.js';
import { readFloor, requireLogDirectory } from '../logdir/directory.js';
import { type Output, printLine } from '../output.js';

export interface CursorsOptions {
  readonly delete?: string;
  readonly json?: boolean;
}

/**
 * `walnut cursors <dir>`: the durable cursors of a log, each with its committed LSN and
 * whether retention passed it. `--delete NAME` deletes one (refused while a consumer holds
 * it open), so that it no longer holds retention back.
 */
export async function cursorsCommand(
  dir: string,
  options: CursorsOptions,
  out: Output,
): Promise<number> {
  const segments = await requireLogDirectory(dir);
  if (options.delete !== undefined) return deleteCursor(dir, options.delete, options, out);
  const floor = await readFloor(dir);
  const floorLsn = floor.kind === 'valid' ? floor.lsn : segments[0]!.firstLsn;
  const rows = (await readCursors(dir)).map((cursor) =>
    cursor.state.kind === 'valid'
      ? {
          name: cursor.name,
          lsn: cursor.state.lsn,
          nextLsn: cursor.state.lsn + 1n,
          behind: cursor.state.lsn + 1n < floorLsn,
          damaged: null,
        }
      : { name: cursor.name, lsn: null, nextLsn: null, behind: null, damaged: cursor.state.reason },
  );
  if (options.json) {
    printJson(out.stdout, { dir, floorLsn, cursors: rows });
    return ExitCode.OK;
  }
  if (rows.length === 0) {
    printLine(out.stdout, `No durable cursors in ${dir}.`);
    return ExitCode.OK;
  }
  printLine(
    out.stdout,
    formatTable(
      ['cursor', 'committed LSN', 'reads next', 'state'],
      rows.map((row) => [
        row.name,
        row.lsn === null ? '?' : String(row.lsn),
        row.nextLsn === null ? '?' : String(row.nextLsn),
        row.damaged !== null
          ? `damaged: ${row.damaged}`
          : row.behind
            ? `behind: records up to ${floorLsn - 1n} were deleted (WAL_CURSOR_BEHIND)`
            : 'ok',
      ]),
    ),
  );
  return rows.some((row) => row.damaged !== null) ? ExitCode.CORRUPTION : ExitCode.OK;
}

async function deleteCursor(
  dir: string,
  name: string,
  options: CursorsOptions,
  out: Output,
): Promise<number> {
  try {
    checkCursorName(name);
  } catch (error) {
    if (isWalError(error)) throw new UsageError(`--delete ${error.message}`);
    throw error;
  }
  const wal = await Wal.open(dir).readOnly().build();
  let deleted: boolean;
  try {
    deleted = await wal.deleteCursor(name);
  } finally {
    await wal.close();
  }
  if (!deleted)
    throw new UsageError(
      `${dir} has no cursor named "${name}"; \`walnut cursors ${dir}\` lists them`,
    );
  if (options.json) printJson(out.stdout, { dir, deleted: name });
  else printLine(out.stdout, `Deleted cursor "${name}": it no longer holds retention back.`);
  return ExitCode.OK;
}
