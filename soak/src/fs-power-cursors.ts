import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c, isWalError } from '@walnut/codec';
import { Wal } from '@walnut/wal';
import { CrashFs, type CrashFsSummary } from './crashfs/crash-fs.js';
import { fileKindOf } from './crashfs/file-kinds.js';
import { CURSOR_NAMES, type CursorsConfig, RECORDS } from './fs-power-cursors-config.js';
import { Rng } from './random.js';
import { childScript, runStep } from './step-child.js';

export interface FsCursorsOptions {
  cycles: number;
  seed: number;
  workDir: string;
}

export interface FsCursorsTally {
  cycles: number;
  /** Power cuts by the kind of file the refused operation was on (file-kinds.ts). */
  byKind: Record<string, number>;
  /** Power cuts that tore the newest unsynced write instead of dropping it. */
  torn: number;
  /** Of those, tears of a cursor file's write. */
  tornCursorWrites: number;
  /** Power cuts that kept pages of unsynced writes out of order (crashfs --reorder). */
  reordered: number;
  /** Cycles that started from a cursor file of the first release's layout. */
  legacyStarts: number;
  /** Commits acknowledged to the consumers. */
  acknowledged: number;
  violations: string[];
}

const script = childScript('fs-power-cursors-child');

/** What one cursor's consumer saw in one cycle, in the order it happened. */
type Event = { kind: 'open' | 'try' | 'ack'; lsn: bigint };

/**
 * Power cuts at the file-system boundary while consumers commit durable cursors in place:
 * each cycle mounts crashfs over one log, runs the child (a read-only opener committing
 * three cursors, awaited or pipelined), cuts power after a random number of changing operations (the newest unsynced
 * write torn in three cycles of four; pages of unsynced writes kept out of order in one of
 * two), and then reopens the log. Every cursor must hold its
 * last acknowledged position or one its consumer committed after that one — never an
 * older one, never one nobody committed — or, with nothing acknowledged in the cycle,
 * what it held before the cycle or a position committed during it.
 */
export async function runFsPowerCursors(options: FsCursorsOptions): Promise<FsCursorsTally> {
  const tally: FsCursorsTally = {
    cycles: 0,
    byKind: {},
    torn: 0,
    tornCursorWrites: 0,
    reordered: 0,
    legacyStarts: 0,
    acknowledged: 0,
    violations: [],
  };
  const backing = join(options.workDir, 'fs-cursors');
  const mountpoint = join(options.workDir, 'fs-cursors-mount');
  rmSync(backing, { recursive: true, force: true });
  mkdirSync(backing, { recursive: true });
  mkdirSync(mountpoint, { recursive: true });
  const writer = await Wal.open(join(backing, 'wal')).build();
  await writer.appendMany(Array.from({ length: RECORDS }, (_, i) => Buffer.from(`job ${i}`)));
  await writer.close();
  /** Each cursor's position after the last check; absent before its file first survived. */
  const held = new Map<string, bigint>();
  let estimate: number | undefined;
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const rng = Rng.forCase(options.seed, 'fs-cursors', cycle);
    const backend = cycle % 2 === 0 ? 'io_uring' : 'sync-fs';
    const crashAfter = estimate === undefined ? undefined : rng.int(0, estimate);
    const tearSeed = rng.chance(0.75) ? rng.u32() : undefined;
    const config: CursorsConfig = {
      dir: join(mountpoint, 'wal'),
      backend,
      seed: rng.u32(),
      cycle,
    };
    // Now and then a cursor file of the first release's layout, so that cuts also land while
    // a commit migrates one (written whole, slotted).
    const legacy = held.get(LEGACY);
    if (cycle % 4 === 3 && legacy !== undefined) {
      writeLegacyCursor(backing, legacy);
      tally.legacyStarts++;
    }
    // Drawn last, so the draws above stay what they were for a seed before it existed.
    const reorderSeed = rng.chance(0.5) ? rng.u32() : undefined;
    const fs = await CrashFs.mount({ backing, mountpoint, crashAfter, tearSeed, reorderSeed });
    let lines: string[];
    let summary: CrashFsSummary;
    try {
      lines = (await runStep(script, config)).lines;
      if (fs.crashPoint === null) {
        await fs.crash();
      }
    } finally {
      summary = await fs.unmount();
    }
    if (summary.crash?.operation === 'command') estimate = Math.max(estimate ?? 0, summary.ops);
    tally.cycles++;
    const kind = summary.crash === null ? 'none' : fileKindOf(summary.crash);
    tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
    if (summary.torn[1] > 0) tally.torn++;
    if (summary.torn[1] === 32) tally.tornCursorWrites++;
    if (summary.pagesKept > 0) tally.reordered++;
    const events = new Map<string, Event[]>(CURSOR_NAMES.map((name) => [name, []]));
    for (const line of lines) {
      const [what, name, lsn] = line.split(' ');
      if (what !== 'open' && what !== 'try' && what !== 'ack') continue;
      events.get(name!)!.push({ kind: what, lsn: BigInt(lsn!) });
      if (what === 'ack') tally.acknowledged++;
    }
    const where = `cycle ${cycle} (seed ${options.seed}, ${backend}, crash after ${crashAfter ?? 'the end'}${tearSeed === undefined ? '' : `, tear ${tearSeed}`}${reorderSeed === undefined ? '' : `, reorder ${reorderSeed}`}, cut at ${describe(summary)})`;
    try {
      const found = await positions(join(backing, 'wal'), backend);
      for (const name of CURSOR_NAMES) {
        const lsn = found.get(name);
        const allowed = allowedPositions(held.get(name), events.get(name)!);
        if (!allowed.has(lsn)) {
          tally.violations.push(
            `${where}: cursor ${name} is at ${lsn ?? 'nothing'}; allowed: ${[...allowed].join(', ')}`,
          );
        }
        if (lsn !== undefined) held.set(name, lsn);
      }
    } catch (error) {
      const code = isWalError(error) ? error.code : 'not a WalError';
      tally.violations.push(`${where}: reopening failed (${code}): ${(error as Error).message}`);
      break;
    }
  }
  rmSync(backing, { recursive: true, force: true });
  rmSync(mountpoint, { recursive: true, force: true });
  return tally;
}

/** The cursor whose file is now and then put back in the first release's 20-byte layout. */
const LEGACY = CURSOR_NAMES[2];

/** Cursor LEGACY's file as the first release wrote it (its generation 0: no cut here). */
function writeLegacyCursor(backing: string, lsn: bigint): void {
  const bytes = Buffer.alloc(20);
  bytes.writeBigUInt64LE(lsn, 0);
  bytes.writeUInt32LE(crc32c(bytes.subarray(0, 16)), 16);
  writeFileSync(join(backing, 'wal', 'cursors', `${LEGACY}.cursor`), bytes);
}

/**
 * Where a cursor may be after a cut: from its last acknowledgement (the position it was
 * opened at counts as one) on, every position tried; with none, what it held before and
 * every position tried (a new cursor: absent, or created at 0).
 */
export function allowedPositions(
  before: bigint | undefined,
  events: readonly Event[],
): Set<bigint | undefined> {
  let lastAck = -1;
  for (const [i, event] of events.entries()) if (event.kind !== 'try') lastAck = i;
  const tried = (from: number) =>
    events.slice(from).flatMap((e) => (e.kind === 'try' || e.kind === 'open' ? [e.lsn] : []));
  if (lastAck >= 0) {
    // An ack names the LSN written: the try of that LSN (tries only go up within a cycle).
    const acked = events[lastAck]!;
    const fromTry =
      acked.kind === 'open'
        ? lastAck
        : events.findIndex((e) => e.kind === 'try' && e.lsn === acked.lsn);
    return new Set(tried(fromTry));
  }
  return new Set(before === undefined ? [undefined, 0n, ...tried(0)] : [before, ...tried(0)]);
}

async function positions(dir: string, backend: CursorsConfig['backend']) {
  const other = backend === 'io_uring' ? 'sync-fs' : 'io_uring';
  const wal = await Wal.open(dir).storageIo(other).build();
  try {
    return new Map((await wal.cursors()).map((info) => [info.name, info.lsn]));
  } finally {
    await wal.close();
  }
}

function describe(summary: CrashFsSummary): string {
  const c = summary.crash;
  if (c === null) return 'nothing';
  const torn = summary.torn[1] > 0 ? `, torn ${summary.torn[0]}/${summary.torn[1]} bytes` : '';
  return `op ${c.op} (${c.operation} ${c.path}${torn})`;
}
