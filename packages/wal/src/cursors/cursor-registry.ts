import { join } from 'node:path';
import {
  CURSOR_DIR,
  CURSOR_FILE_SIZE,
  CURSOR_LOCK_SUFFIX,
  type CursorPosition,
  checkCursorName,
  cursorCorrupt,
  cursorFileName,
  cursorNameOf,
  type DecodedCursor,
  decodeCursor,
  isWalError,
  jsonReady,
  WalErrorCode,
} from '@walnut/codec';
import { readSmallFile } from '@walnut/segmented';
import { Errno, type IoLock } from '@walnut/storage-io';
import { CommitRounds } from './commit-rounds.js';
import { Cursor } from './cursor.js';
import { cursorInUseError } from './cursor-errors.js';
import { CursorFile } from './cursor-file.js';
import type { CursorHost } from './cursor-host.js';
import { readLastCut } from './last-cut.js';

/** A durable cursor as `wal.cursors()` lists it. */
export interface CursorInfo {
  readonly name: string;
  /** The last committed LSN. */
  readonly lsn: bigint;
  /** Records after `lsn` were deleted: its next read or commit fails with WAL_CURSOR_BEHIND. */
  readonly behind: boolean;
  /** Held open by this Wal. */
  readonly open: boolean;
}

/** The cursors of one Wal: those it holds open, and every cursor file of the log directory. */
export class CursorRegistry {
  private readonly held = new Map<string, Cursor>();
  private readonly opening = new Map<string, Promise<Cursor>>();
  private directory: Promise<void> | undefined;
  readonly rounds: CommitRounds;
  readonly cursorDir: string;

  constructor(private readonly host: CursorHost) {
    this.rounds = new CommitRounds();
    this.cursorDir = join(host.dir, CURSOR_DIR);
  }

  /**
   * Opens cursor `name`, creating it (durably, at the first LSN still kept minus one) if
   * it does not exist. One holder at a time: WAL_CURSOR_IN_USE while another process or
   * another Wal holds it; this Wal hands out the Cursor it already holds.
   */
  cursor(name: string): Promise<Cursor> {
    try {
      checkCursorName(name);
    } catch (error) {
      return Promise.reject(error);
    }
    const refusal = this.host.refusal();
    if (refusal) return Promise.reject(refusal);
    const held = this.held.get(name);
    if (held) return Promise.resolve(held);
    let opening = this.opening.get(name);
    if (opening === undefined) {
      opening = this.openCursor(name).finally(() => this.opening.delete(name));
      this.opening.set(name, opening);
    }
    return opening;
  }

  /** Every cursor in the log directory (of any process), by name. */
  async list(): Promise<CursorInfo[]> {
    const refusal = this.host.refusal();
    if (refusal) throw refusal;
    await this.host.catchUp();
    const floor = this.host.floorLsn();
    const out: CursorInfo[] = [];
    for (const [name, { lsn }] of await this.positions()) {
      out.push(jsonReady({ name, lsn, behind: lsn + 1n < floor, open: this.held.has(name) }));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * The lowest position each cursor this Wal holds has or may land on (`Cursor.holdsFrom`):
   * read at once, so that nothing commits between this look and what is done with it.
   */
  heldPositions(): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const [name, cursor] of this.held) out.set(name, cursor.holdsFrom);
    return out;
  }

  /**
   * Where each cursor on disk holds retention: at its committed LSN, or, for a position
   * committed before the last suffix cut and above it, at the cut, where its consumer reads
   * on after WAL_TRUNCATED. After two cuts or more the lower ones are not recorded, so such a
   * cursor holds everything left until it commits again.
   */
  async retentionHolds(): Promise<Map<string, bigint>> {
    const cut = await readLastCut(this.host.io, this.host.dir);
    const holds = new Map<string, bigint>();
    for (const [name, { lsn, generation }] of await this.positions()) {
      const cutsSince = (cut?.generation ?? 0n) - generation;
      if (cut === null || cutsSince <= 0n) holds.set(name, lsn);
      // biome-ignore lint/complexity/useMathMinMax: bigints, which Math.min does not take
      else if (cutsSince === 1n) holds.set(name, lsn < cut.afterLsn ? lsn : cut.afterLsn);
      else holds.set(name, 0n);
    }
    return holds;
  }

  /** Committed positions (with their cut generations) of every cursor on disk. */
  private async positions(): Promise<Map<string, CursorPosition>> {
    const io = this.host.io;
    let names: string[];
    try {
      names = await io.readdir(this.cursorDir);
    } catch (error) {
      if (isWalError(error, WalErrorCode.IO) && error.details.errno === Errno.ENOENT)
        return new Map();
      throw error;
    }
    const found = new Map<string, CursorPosition>();
    for (const file of names) {
      const name = cursorNameOf(file);
      if (name === null) continue;
      const position = await this.read(file);
      if (position !== null) found.set(name, position);
    }
    return found;
  }

  /**
   * Deletes cursor `name` (closing it if this Wal holds it): it no longer holds retention.
   * Resolves true if it existed. WAL_CURSOR_IN_USE while another holder has it open.
   */
  async delete(name: string): Promise<boolean> {
    checkCursorName(name);
    const refusal = this.host.refusal();
    if (refusal) throw refusal;
    const held = this.held.get(name) ?? (await this.opening.get(name)?.catch(() => undefined));
    let existed = false;
    const removeFiles = async (): Promise<void> => {
      const io = this.host.io;
      const file = join(this.cursorDir, cursorFileName(name));
      existed = (await io.stat(file)) !== null;
      for (const path of [file, `${file}.tmp`, this.lockPathOf(name)]) {
        if ((await io.stat(path)) !== null) await io.unlink(path);
      }
      await io.syncDirectory(this.cursorDir);
    };
    if (held) {
      await held.closeThen(removeFiles);
    } else {
      if ((await this.host.io.stat(this.cursorDir)) === null) return false;
      const lock = await this.lockCursor(name);
      try {
        await removeFiles();
      } finally {
        await lock.release();
      }
    }
    return existed;
  }

  /** Closes every cursor this Wal holds (their positions stay on disk). */
  async close(): Promise<void> {
    await Promise.allSettled([...this.opening.values()]);
    await Promise.all([...this.held.values()].map((cursor) => cursor.close()));
  }

  private async openCursor(name: string): Promise<Cursor> {
    await this.ensureDirectory();
    const lock = await this.lockCursor(name);
    try {
      const host = this.host;
      const found = (await this.read(cursorFileName(name))) ?? undefined;
      const file = new CursorFile(host.io, host.dir, name, found);
      let position: CursorPosition | undefined = found;
      if (position === undefined) {
        await host.catchUp();
        const generation = (await readLastCut(host.io, host.dir))?.generation ?? 0n;
        const lsn = await this.rounds.commit(file, host.floorLsn() - 1n, generation);
        position = { lsn, generation };
      }
      const { lsn, generation } = position;
      const cursor = new Cursor(name, lsn, generation, host, this.rounds, file, lock, (closed) => {
        if (this.held.get(name) === closed) this.held.delete(name);
      });
      this.held.set(name, cursor);
      return cursor;
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /**
   * What cursor file `file` of `cursors/` holds, null when it is not there. A read racing
   * two in-place writes of the cursor's holder can find neither slot whole: it reads again.
   */
  private async read(file: string): Promise<DecodedCursor | null> {
    for (let attempt = 1; ; attempt++) {
      const bytes = await readSmallFile(this.host.io, this.cursorDir, file, CURSOR_FILE_SIZE + 1);
      if (bytes === null) return null;
      const position = decodeCursor(bytes, join(this.cursorDir, file));
      if (position !== null) return position;
      if (attempt === 3) throw cursorCorrupt(join(this.cursorDir, file), bytes.length);
    }
  }

  private async lockCursor(name: string): Promise<IoLock> {
    try {
      return await this.host.io.lock(this.lockPathOf(name));
    } catch (error) {
      if (isWalError(error, WalErrorCode.LOCKED)) throw cursorInUseError(name, error);
      throw error;
    }
  }

  private lockPathOf(name: string): string {
    return join(this.cursorDir, `${name}${CURSOR_LOCK_SUFFIX}`);
  }

  /** `cursors/`, created once and made durable in the log directory before any cursor file. */
  private ensureDirectory(): Promise<void> {
    this.directory ??= (async () => {
      const io = this.host.io;
      if ((await io.stat(this.cursorDir)) !== null) return;
      await io.mkdir(this.cursorDir);
      await io.syncDirectory(this.host.dir);
    })().catch((error) => {
      this.directory = undefined;
      throw error;
    });
    return this.directory;
  }
}
