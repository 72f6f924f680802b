import { copyFile, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ioErrorFromNode, WalError, WalErrorCode } from '@walnut/codec';
import { type FinishedCut, SegmentedWal } from '@walnut/segmented';
import { makeDirectory } from '@walnut/storage-io';
import { ExitCode } from '../exit-codes.js';
import { formatBytes, formatCount } from '../format.js';
import { printJson } from '../json.js';
import { checkLog, type Finding, isCorrupt, type LogCheck } from '../logdir/check.js';
import { pendingCut } from '../logdir/directory.js';
import { encryptedScanError } from '../logdir/encrypted.js';
import { lockHolder } from '../logdir/lock-holder.js';
import { LsnRanges } from '../lsn-ranges.js';
import { type Output, printLine } from '../output.js';
import { describeFinding } from './verify.js';

export interface RepairOptions {
  /** Also drop mid-log corruption, keeping every intact record. */
  readonly salvage?: boolean;
  readonly json?: boolean;
  /** Where to copy the files first (default: `<dir>.repair-<timestamp>` beside the log). */
  readonly backupDir?: string;
}

/**
 * `walnut repair <dir> [--salvage]`: makes a damaged log open cleanly again. The change
 * itself is done by @walnut/segmented's own recovery (the code every open runs), never by
 * a second implementation here; this command decides whether it is allowed, copies every
 * file it may change aside first, and afterwards says exactly what is gone by comparing
 * the records before and after.
 */
export async function repairCommand(
  dir: string,
  options: RepairOptions,
  out: Output,
): Promise<number> {
  const say = (text = '') => {
    if (!options.json) printLine(out.stdout, text);
  };
  const finishedCut = await finishInterruptedCut(dir, say);
  const beforeLsns = new LsnRanges();
  const before = await checkLog(dir, { onRecord: (r) => beforeLsns.add(r.lsn) });
  if (before.findings.length === 0) {
    if (options.json)
      printJson(
        out.stdout,
        finishedCut === null
          ? { dir, repaired: false, reason: 'nothing to repair' }
          : { dir, repaired: true, finishedCut },
      );
    say(finishedCut === null ? `Nothing to repair: ${dir} is clean.` : `${dir} is clean now.`);
    return ExitCode.OK;
  }
  // Recovery reads every record to find where to cut: it needs the key, which the CLI lacks.
  // Refused before any advice to run --salvage, which could not work either.
  for (const scan of before.segments) {
    const refusal = encryptedScanError(dir, scan, 'repair');
    if (refusal !== null) throw refusal;
  }
  const missing = before.findings.filter((f) => f.kind === 'missing-segment');
  const midLog = before.findings.filter((f) => f.kind === 'corruption');
  for (const f of before.findings) say(describeFinding(f));
  if (missing.length > 0 && !options.salvage) {
    say();
    for (const f of missing) say(missingAdvice(f));
    if (options.json)
      printJson(out.stdout, {
        dir,
        repaired: false,
        reason: 'missing segment needs --salvage',
        findings: before.findings,
      });
    return ExitCode.CORRUPTION;
  }
  if (midLog.length > 0 && !options.salvage) {
    say();
    say('This is mid-log corruption: valid records follow the damage. Nothing was changed.');
    say(
      `Run \`walnut repair ${dir} --salvage\` to drop the damaged stretches and keep every intact record.`,
    );
    if (options.json)
      printJson(out.stdout, {
        dir,
        repaired: false,
        reason: 'mid-log corruption needs --salvage',
        findings: before.findings,
      });
    return ExitCode.CORRUPTION;
  }

  await refuseWhileWritten(
    dir,
    '; stop it before repairing (it repairs a torn tail itself on its next open)',
  );
  const backup = await backUp(dir, before, options.backupDir);
  say();
  say(`Copied ${backup.files.length} file(s) that may change to ${backup.dir}`);

  const wal = await SegmentedWal.open({
    dir,
    recovery: options.salvage ? 'salvage' : 'truncate-tail',
  });
  const report = wal.recoveryReport;
  await wal.close();

  const afterLsns = new LsnRanges();
  const after = await checkLog(dir, { onRecord: (r) => afterLsns.add(r.lsn) });
  const dropped = beforeLsns.minus(afterLsns);
  const cuts = sizeChanges(before, after);
  if (options.json) {
    printJson(out.stdout, {
      dir,
      repaired: true,
      backupDir: backup.dir,
      findings: before.findings,
      filesChanged: cuts,
      droppedRecords: dropped.count,
      droppedLsns: dropped.list(),
      recoveryReport: report,
      clean: !isCorrupt(after),
    });
  }
  const renamed = new Map(
    report.salvaged
      .filter((d) => d.movedTo !== undefined)
      .map((d) => [basename(d.segment), basename(d.movedTo!)]),
  );
  const splitFrom = new Map(
    report.salvaged
      .filter((d) => d.splitTo !== undefined)
      .map((d) => [basename(d.splitTo!), basename(d.segment)]),
  );
  for (const c of cuts) {
    const change =
      c.before === null
        ? `added: the intact records after damage in ${splitFrom.get(c.segment) ?? 'another segment'}`
        : c.after === null
          ? renamed.has(c.segment)
            ? `renamed to ${renamed.get(c.segment)} (kept beside the log, no longer part of it)`
            : 'removed'
          : `cut from ${c.before} to ${c.after} bytes`;
    say(`${c.segment}: ${change}`);
  }
  for (const gap of report.gaps) say(`LSNs ${gap.from}..${gap.to} are lost; recorded in GAPS`);
  say(
    dropped.count === 0n
      ? 'No readable record was dropped.'
      : `Dropped ${formatCount(dropped.count)} readable record(s): LSN ${dropped}`,
  );
  const lost = midLog.filter((f: Finding) => f.offset !== null);
  if (lost.length > 0)
    say(`The damaged stretches themselves (${lost.length}) could not be read and are gone.`);
  if (isCorrupt(after)) {
    say('The log is still not clean after repair:');
    for (const f of after.findings) say(describeFinding(f));
    return ExitCode.CORRUPTION;
  }
  say(
    `Repaired: ${formatCount(after.records)} records remain${after.lastLsn === null ? '' : ` (LSN ${after.firstLsn} .. ${after.lastLsn})`}.`,
  );
  return ExitCode.OK;
}

/**
 * What a missing-segment finding means and what to do. Names cannot tell a sealed segment
 * cut short at a frame boundary from a file gone after it, so both are said, the segment
 * that ends early first (a user met it with every file there).
 */
function missingAdvice(f: Finding): string {
  const keep = 'Nothing was changed: ';
  const salvage = 'or run with --salvage to record them as lost and keep every other record.';
  if (f.gap === undefined) {
    return `The newest segment is missing (${f.segment}). ${keep}restore it from a backup, ${salvage}`;
  }
  const { from, to, endsEarly } = f.gap;
  return `LSNs ${from}..${to} are gone: ${endsEarly} ends at LSN ${from - 1n}, and ${f.segment} starts at LSN ${to + 1n}. ${endsEarly} was cut short, or a segment file between the two is missing. ${keep}restore ${endsEarly} (and any file missing after it) from a backup, ${salvage}`;
}

/** Copies every segment from the first damaged one on, and FLOOR, aside. */
/** WAL_LOCKED while a live process writes `dir`; `leftToIt` says what that writer does itself. */
async function refuseWhileWritten(dir: string, leftToIt: string): Promise<void> {
  const lock = await lockHolder(dir);
  if (lock.kind === 'held')
    throw new WalError(WalErrorCode.LOCKED, `pid ${lock.pid} is writing ${dir}${leftToIt}`);
}

/**
 * A truncateAfter its writer did not finish (a crash, a power loss) is finished first, as
 * the next writer's open would: from the moment its CUT record was durable the cut was
 * decided, and the files read as damage until it is done. Null when there was none.
 */
async function finishInterruptedCut(
  dir: string,
  say: (text?: string) => void,
): Promise<FinishedCut | null> {
  const cut = await pendingCut(dir);
  if (cut === null) return null;
  await refuseWhileWritten(dir, ` and cutting it after LSN ${cut}; it finishes the cut itself`);
  const wal = await SegmentedWal.open({ dir });
  const finished = wal.recoveryReport.finishedCut;
  await wal.close();
  say(
    `Finished an interrupted truncateAfter(${cut}): the records after LSN ${cut} are gone, ${finished?.segmentsDeleted ?? 0} segment(s) deleted.`,
  );
  return finished;
}

async function backUp(
  dir: string,
  check: LogCheck,
  backupDir?: string,
): Promise<{ dir: string; files: string[] }> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const target =
    backupDir ?? join(dirname(resolve(dir)), `${basename(resolve(dir))}.repair-${stamp}`);
  const existed = await stat(target).then(
    () => true,
    () => false,
  );
  makeDirectory(target);
  const firstDamaged = check.segments.findIndex((s) =>
    check.findings.some((f) => f.segment === s.file.name),
  );
  const copies = check.segments
    .slice(Math.max(firstDamaged, 0))
    .map((scan) => ({ name: scan.file.name, from: scan.file.path, bytes: scan.file.sizeBytes }));
  if (check.floor.kind !== 'absent')
    copies.push({ name: 'FLOOR', from: join(dir, 'FLOOR'), bytes: 0 });
  const files: string[] = [];
  try {
    for (const copy of copies) {
      await copyFile(copy.from, join(target, copy.name));
      files.push(copy.name);
    }
  } catch (error) {
    // Nothing of the log was changed yet: the partial backup goes, and the error says why.
    for (const name of files) await rm(join(target, name), { force: true });
    if (!existed) await rm(target, { recursive: true, force: true });
    const cause = ioErrorFromNode(error, 'copyfile', target);
    const bytes = copies.reduce((sum, copy) => sum + copy.bytes, 0);
    throw new WalError(
      cause.code,
      `backing up ${formatBytes(bytes)} to ${target} before repairing failed (${cause.message}); nothing was changed. Free space there, or pass --backup-dir on a disk with room`,
      { cause, details: cause.details },
    );
  }
  return { dir: target, files };
}

interface SizeChange {
  readonly segment: string;
  readonly before: number | null;
  readonly after: number | null;
}

function sizeChanges(before: LogCheck, after: LogCheck): SizeChange[] {
  const sizes = new Map<string, SizeChange>();
  for (const s of before.segments)
    sizes.set(s.file.name, { segment: s.file.name, before: s.file.sizeBytes, after: null });
  for (const s of after.segments) {
    const prior = sizes.get(s.file.name);
    sizes.set(s.file.name, {
      segment: s.file.name,
      before: prior?.before ?? null,
      after: s.file.sizeBytes,
    });
  }
  return [...sizes.values()].filter((c) => c.before !== c.after);
}
