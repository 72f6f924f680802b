import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseSegmentFileName } from '@walnut/codec';
import { isWalError, Wal, type WalBuilder } from '@walnut/wal';
import { applyDamage, describeDamage, type LogFiles, planDamage } from './damage.js';
import { type FrameSpan, mapFrames } from './frames.js';
import { type Found, judgeDefault, judgeSalvage, type Outcome, type Template } from './judge.js';
import { soakKeyRing } from './keys.js';
import { makePayload } from './payload.js';
import { Rng } from './random.js';

const RECORDS = 3000;
const SEGMENT_SIZE = 64 * 1024;
const BACKENDS = ['io_uring', 'sync-fs'] as const;

export interface FuzzOptions {
  logs: number;
  workDir: string;
  seed: number;
  progress: (line: string) => void;
}

export interface FuzzTally {
  logs: number;
  templates: string[];
  /** Damage plans that happened to change no byte (a zeroed run over zeros). */
  noChange: number;
  refused: Record<string, number>;
  unchanged: number;
  cut: number;
  cutClean: number;
  salvageRefused: Record<string, number>;
  salvageOpened: number;
  /** Over the logs salvage opened: records in the template, records whose frames were intact, records kept. */
  salvageTotal: number;
  salvageIntact: number;
  salvageKept: number;
  salvageKeptDamaged: number;
  /** Logs where salvage kept fewer records than had intact frames. */
  salvageMissedIntact: number;
  violations: string[];
}

/** The template's records and the bytes each was written with, by LSN. */
interface Built {
  template: Template;
  payloads: Buffer[];
}

async function appendAll(builder: WalBuilder, epoch: number, from: number, to: number, rng: Rng) {
  const wal = await builder.build();
  const producers = 16;
  let next = from;
  await Promise.all(
    Array.from({ length: producers }, async () => {
      while (next < to) {
        const seq = next++;
        await wal.append(makePayload({ epoch, producer: 0, seq }, rng.int(20, 300)));
      }
    }),
  );
  await wal.shutdown();
}

/**
 * Builds one undamaged log of RECORDS records over about 8 segments: 'plain', 'encrypted'
 * (durable appends, so the last segment ends in zero-filled space) or 'migrated' (its
 * first half plain, then reopened with a key ring: encrypted segments after plain ones).
 */
async function buildTemplate(
  name: string,
  epoch: number,
  workDir: string,
  seed: number,
): Promise<Built> {
  const dir = join(workDir, `template-${name}`);
  rmSync(dir, { recursive: true, force: true });
  const rng = Rng.forCase(seed, 'template', epoch);
  const open = (encrypted: boolean, durable: boolean) => {
    let b = Wal.open(dir)
      .segmentSize(SEGMENT_SIZE)
      .storageIo('sync-fs')
      .durability(durable ? 'sync' : 'none');
    if (encrypted) b = b.encryption(soakKeyRing());
    return b;
  };
  if (name === 'plain') await appendAll(open(false, false), epoch, 0, RECORDS, rng);
  else if (name === 'encrypted') await appendAll(open(true, true), epoch, 0, RECORDS, rng);
  else {
    await appendAll(open(false, false), epoch, 0, RECORDS / 2, rng);
    await appendAll(open(true, false), epoch, RECORDS / 2, RECORDS, rng);
  }
  const encrypted = name !== 'plain';
  const ring = encrypted ? soakKeyRing() : undefined;
  const files = new Map<string, Buffer>();
  const segments: string[] = [];
  const firstLsn = new Map<string, number>();
  const frames = new Map<string, FrameSpan[]>();
  for (const file of readdirSync(dir).sort()) {
    if (file === 'LOCK') continue;
    const bytes = readFileSync(join(dir, file));
    files.set(file, bytes);
    const lsn = parseSegmentFileName(file);
    if (lsn === null) continue;
    segments.push(file);
    firstLsn.set(file, Number(lsn));
    frames.set(file, mapFrames(bytes, ring));
  }
  const payloads: Buffer[] = [];
  let reader = Wal.open(dir).readOnly();
  if (ring) reader = reader.encryption(ring);
  const wal = await reader.build();
  await wal.replay(1n, (r) => {
    payloads[Number(r.lsn)] = Buffer.from(r.payload);
  });
  await wal.close();
  rmSync(dir, { recursive: true, force: true });
  const mapped = [...frames.values()].reduce((n, spans) => n + spans.length, 0);
  if (payloads.length - 1 !== RECORDS || mapped !== RECORDS) {
    throw new Error(
      `template ${name}: ${payloads.length - 1} records replayed, ${mapped} frames mapped, ${RECORDS} written`,
    );
  }
  return {
    template: { name, encrypted, files, segments, firstLsn, frames, records: RECORDS },
    payloads,
  };
}

function writeLog(dir: string, files: LogFiles): void {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of files) writeFileSync(join(dir, name), bytes);
}

async function openAndRead(
  dir: string,
  built: Built,
  backend: (typeof BACKENDS)[number],
  salvage: boolean,
): Promise<Outcome> {
  let builder = Wal.open(dir).storageIo(backend);
  if (built.template.encrypted) builder = builder.encryption(soakKeyRing());
  if (salvage) builder = builder.recovery('salvage');
  let wal: Wal;
  try {
    wal = await builder.build();
  } catch (error) {
    return refusal(error, '');
  }
  const found: Found[] = [];
  try {
    await wal.replay(wal.floorLsn, (r) => {
      const lsn = Number(r.lsn);
      found.push({ lsn, matches: built.payloads[lsn]?.equals(r.payload) === true });
    });
  } catch (error) {
    return { ...refusal(error, ' (at replay)'), found };
  } finally {
    await wal.close();
  }
  return { kind: 'opened', found, report: wal.recovery! };
}

function refusal(error: unknown, where: string): Outcome {
  const message = (error as Error)?.message ?? String(error);
  return { kind: 'refused', code: isWalError(error) ? `${error.code}${where}` : null, message };
}

function count(map: Record<string, number>, key: string): void {
  map[key] = (map[key] ?? 0) + 1;
}

/**
 * Phase 3: damage fuzz. Three undamaged logs are built once; each damaged log is a copy of
 * one with random damage, opened twice on real files: with the default recovery (judged
 * by judgeDefault) and with recovery 'salvage' (judgeSalvage, and its keep-rate measured).
 */
export async function runDamageFuzz(options: FuzzOptions): Promise<FuzzTally> {
  const names = ['plain', 'encrypted', 'migrated'];
  const built: Built[] = [];
  for (const [i, name] of names.entries())
    built.push(await buildTemplate(name, i, options.workDir, options.seed));
  const tally: FuzzTally = {
    logs: 0,
    templates: built.map(
      (b) =>
        `${b.template.name}: ${b.template.records} records in ${b.template.segments.length} segments`,
    ),
    noChange: 0,
    refused: {},
    unchanged: 0,
    cut: 0,
    cutClean: 0,
    salvageRefused: {},
    salvageOpened: 0,
    salvageTotal: 0,
    salvageIntact: 0,
    salvageKept: 0,
    salvageKeptDamaged: 0,
    salvageMissedIntact: 0,
    violations: [],
  };
  const dirA = join(options.workDir, 'damaged-default');
  const dirB = join(options.workDir, 'damaged-salvage');
  for (let index = 0; index < options.logs; index++) {
    const rng = Rng.forCase(options.seed, 'damage', index);
    const b = built[index % built.length]!;
    const t = b.template;
    const plan = planDamage(rng, t.segments, t.files);
    const damaged = applyDamage(t.files, plan);
    const backend = rng.pick(BACKENDS);
    const where = `damaged log ${index} (seed ${options.seed}, ${t.name} template, ${backend}: ${describeDamage(plan)})`;
    if ([...t.files].every(([n, bytes]) => damaged.get(n)?.equals(bytes))) tally.noChange++;

    writeLog(dirA, damaged);
    const byDefault = judgeDefault(t, damaged, await openAndRead(dirA, b, backend, false));
    if (byDefault.verdict === 'refused') count(tally.refused, byDefault.code!);
    else if (byDefault.verdict === 'unchanged') tally.unchanged++;
    else if (byDefault.verdict === 'cut') tally.cut++;
    else tally.cutClean++;
    for (const v of byDefault.violations) tally.violations.push(`${where}, default recovery: ${v}`);

    writeLog(dirB, damaged);
    const bySalvage = judgeSalvage(t, damaged, await openAndRead(dirB, b, backend, true));
    if (bySalvage.refusedCode !== undefined) count(tally.salvageRefused, bySalvage.refusedCode);
    else {
      tally.salvageOpened++;
      tally.salvageTotal += t.records;
      tally.salvageIntact += bySalvage.intact;
      tally.salvageKept += bySalvage.kept;
      tally.salvageKeptDamaged += bySalvage.keptDamaged;
      if (bySalvage.kept - bySalvage.keptDamaged < bySalvage.intact) tally.salvageMissedIntact++;
    }
    for (const v of bySalvage.violations) tally.violations.push(`${where}, salvage: ${v}`);
    tally.logs++;
    if ((index + 1) % 250 === 0 || index + 1 === options.logs) {
      options.progress(
        `damage fuzz: ${index + 1}/${options.logs} logs, ${tally.violations.length} violation(s)`,
      );
    }
  }
  rmSync(dirA, { recursive: true, force: true });
  rmSync(dirB, { recursive: true, force: true });
  return tally;
}
