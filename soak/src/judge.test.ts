import { join } from 'node:path';
import { parseSegmentFileName } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { type RecoveryReport, Wal } from '@walnut/wal';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyDamage, type Damage } from './damage.js';
import { cleanEndLsn, type FrameSpan, mapFrames } from './frames.js';
import { type Found, judgeDefault, judgeSalvage, reportedRanges, type Template } from './judge.js';
import { soakKeyRing } from './keys.js';
import { makePayload } from './payload.js';

const DIR = '/log';
const RECORDS = 90;

/** A three-or-more-segment log written through the Wal over memory, as the fuzz's templates are. */
async function buildTemplate(encrypted: boolean): Promise<Template> {
  const io = new MemoryStorageIo();
  let builder = Wal.open(DIR).storageIo(io).segmentSize(4096).durability('none');
  if (encrypted) builder = builder.encryption(soakKeyRing());
  const wal = await builder.build();
  for (let i = 0; i < RECORDS; i++)
    await wal.append(makePayload({ epoch: 0, producer: 0, seq: i }, 100));
  await wal.shutdown();
  const files = new Map<string, Buffer>();
  const firstLsn = new Map<string, number>();
  const frames = new Map<string, FrameSpan[]>();
  const segments: string[] = [];
  for (const name of (await io.readdir(DIR)).sort()) {
    const lsn = parseSegmentFileName(name);
    if (lsn === null) continue;
    const bytes = io.fileBytes(join(DIR, name))!;
    files.set(name, bytes);
    segments.push(name);
    firstLsn.set(name, Number(lsn));
    frames.set(name, mapFrames(bytes, encrypted ? soakKeyRing() : undefined));
  }
  return { name: 'test', encrypted, files, segments, firstLsn, frames, records: RECORDS };
}

const report = (extra: Partial<RecoveryReport> = {}): RecoveryReport => ({
  mode: 'truncate-tail',
  readOnly: false,
  segments: 3,
  records: RECORDS,
  floorLsn: 1n,
  lastLsn: BigInt(RECORDS),
  tornTail: null,
  salvaged: [],
  gaps: [],
  removedFiles: [],
  finishedCut: null,
  ...extra,
});
const lsns = (from: number, to: number): Found[] =>
  Array.from({ length: to - from + 1 }, (_, i) => ({ lsn: from + i, matches: true }));

let plain: Template;
let encrypted: Template;
beforeAll(async () => {
  plain = await buildTemplate(false);
  encrypted = await buildTemplate(true);
});

describe('mapFrames', () => {
  it('finds one frame per record, in LSN order, plain and encrypted', () => {
    for (const t of [plain, encrypted]) {
      expect(t.segments.length).toBeGreaterThanOrEqual(3);
      const all = t.segments.flatMap((s) => t.frames.get(s)!.map((f) => f.lsn));
      expect(all).toEqual(lsns(1, RECORDS).map((f) => f.lsn));
      const first = t.frames.get(t.segments[0]!)!;
      expect(first[0]!.start).toBe(64);
      expect(first[1]!.start).toBe(first[0]!.end);
    }
  });
});

describe('cleanEndLsn', () => {
  it('is the last whole record before zeros or the end of the file, null after garbage', () => {
    const last = plain.segments[plain.segments.length - 1]!;
    const bytes = plain.files.get(last)!;
    const spans = plain.frames.get(last)!;
    const first = plain.firstLsn.get(last)!;
    expect(cleanEndLsn(bytes, bytes, spans, first)).toBe(RECORDS);
    expect(cleanEndLsn(bytes, bytes.subarray(0, spans[1]!.end), spans, first)).toBe(spans[1]!.lsn);
    const zeroed = Buffer.from(bytes).fill(0, spans[2]!.start);
    expect(cleanEndLsn(bytes, zeroed, spans, first)).toBe(spans[1]!.lsn);
    expect(cleanEndLsn(bytes, bytes.subarray(0, 64), spans, first)).toBe(first - 1);
    const flipped = Buffer.from(bytes);
    flipped[spans[1]!.start + 20] = flipped[spans[1]!.start + 20]! ^ 1;
    expect(cleanEndLsn(bytes, flipped, spans, first)).toBeNull();
  });
});

describe('judgeDefault', () => {
  const damageMiddle = (t: Template): Damage => ({
    kind: 'zero',
    file: t.segments[1]!,
    offset: t.frames.get(t.segments[1]!)![2]!.start,
    length: 10,
  });

  it('accepts a refusal with a WalError and counts it by code', () => {
    const damaged = applyDamage(plain.files, [damageMiddle(plain)]);
    const v = judgeDefault(plain, damaged, { kind: 'refused', code: 'WAL_CORRUPT', message: 'x' });
    expect(v).toEqual({ verdict: 'refused', code: 'WAL_CORRUPT', violations: [] });
  });

  it('flags a replay that handed out a wrong or out-of-order record before refusing', () => {
    const damaged = applyDamage(plain.files, [damageMiddle(plain)]);
    const found = [
      { lsn: 1, matches: true },
      { lsn: 2, matches: false },
      { lsn: 4, matches: true },
    ];
    const v = judgeDefault(plain, damaged, {
      kind: 'refused',
      code: 'WAL_CORRUPT (at replay)',
      message: 'x',
      found,
    });
    expect(v.violations).toEqual([
      "LSN 2 came back with bytes that are not the original's",
      'LSN 4 came after LSN 2',
    ]);
  });

  it('flags a thrown non-WalError, and a refused undamaged log', () => {
    const v = judgeDefault(plain, plain.files, { kind: 'refused', code: null, message: 'boom' });
    expect(v.violations).toEqual([
      'threw something that is not a WalError: boom',
      'refused an undamaged log: boom',
    ]);
  });

  it('flags a wrong record', () => {
    const found = lsns(1, RECORDS).map((f) => ({ ...f, matches: f.lsn !== 7 }));
    const v = judgeDefault(plain, plain.files, { kind: 'opened', found, report: report() });
    expect(v.violations).toEqual(["LSN 7 came back with bytes that are not the original's"]);
  });

  it('flags a log silently shorter by records outside the last segment', () => {
    const damaged = applyDamage(plain.files, [damageMiddle(plain)]);
    const k = plain.firstLsn.get(plain.segments[1]!)! + 1;
    const v = judgeDefault(plain, damaged, { kind: 'opened', found: lsns(1, k), report: report() });
    expect(v.violations[0]).toMatch(/records outside the last segment .* are gone/);
  });

  it('accepts a reported torn tail of the last segment, and flags an unreported one', () => {
    const t = plain;
    const last = t.segments[t.segments.length - 1]!;
    const spans = t.frames.get(last)!;
    const damaged = applyDamage(t.files, [
      { kind: 'truncate', file: last, length: spans[1]!.end + 5 },
    ]);
    const found = lsns(1, spans[1]!.lsn);
    const torn = {
      segment: join(DIR, last),
      offset: spans[1]!.end,
      bytes: 5,
      reason: 'torn',
      cut: true,
    };
    expect(
      judgeDefault(t, damaged, { kind: 'opened', found, report: report({ tornTail: torn }) }),
    ).toEqual({
      verdict: 'cut',
      violations: [],
    });
    expect(
      judgeDefault(t, damaged, { kind: 'opened', found, report: report() }).violations[0],
    ).toMatch(/silently shorter/);
  });

  it('accepts an unreported cut where the last segment ends cleanly', () => {
    const last = plain.segments[plain.segments.length - 1]!;
    const spans = plain.frames.get(last)!;
    const damaged = applyDamage(plain.files, [
      { kind: 'truncate', file: last, length: spans[1]!.end },
    ]);
    const v = judgeDefault(plain, damaged, {
      kind: 'opened',
      found: lsns(1, spans[1]!.lsn),
      report: report(),
    });
    expect(v).toEqual({ verdict: 'cut-clean', violations: [] });
  });
});

describe('judgeSalvage', () => {
  it('counts intact records and flags lost ones nobody reported', () => {
    const t = encrypted;
    const middle = t.segments[1]!;
    const spans = t.frames.get(middle)!;
    const damaged = applyDamage(t.files, [
      { kind: 'flip', file: middle, offset: spans[3]!.start + 9, bit: 0 },
    ]);
    const lost = spans[3]!.lsn;
    const found = lsns(1, RECORDS).filter((f) => f.lsn !== lost);
    const silent = judgeSalvage(t, damaged, { kind: 'opened', found, report: report() });
    expect(silent).toMatchObject({ kept: RECORDS - 1, intact: RECORDS - 1, keptDamaged: 0 });
    expect(silent.violations).toEqual([
      `salvage lost 1 record(s) without reporting them (first LSN ${lost}, last ${lost})`,
    ]);
    const named = {
      segment: join(DIR, middle),
      offset: spans[3]!.start,
      bytes: 10,
      reason: 'damage',
      lostLsns: null,
    };
    const onlyNamed = judgeSalvage(t, damaged, {
      kind: 'opened',
      found,
      report: report({ salvaged: [named] }),
    });
    expect(onlyNamed.violations).toHaveLength(1);
    const ranged = { ...named, lostLsns: { from: BigInt(lost), to: BigInt(lost) } };
    const reported = judgeSalvage(t, damaged, {
      kind: 'opened',
      found,
      report: report({ salvaged: [ranged] }),
    });
    expect(reported.violations).toEqual([]);
  });

  it("accepts a loss covered by the log's gaps, and no more than they cover", () => {
    const withGap = report({ gaps: [{ from: 5n, to: 9n }] });
    expect(reportedRanges(withGap)).toEqual([[5n, 9n]]);
    const found = lsns(1, RECORDS).filter((f) => f.lsn < 5 || f.lsn > 9);
    const judged = judgeSalvage(plain, plain.files, { kind: 'opened', found, report: withGap });
    expect(judged.violations).toEqual([]);
    const narrower = report({ gaps: [{ from: 5n, to: 8n }] });
    const short = judgeSalvage(plain, plain.files, { kind: 'opened', found, report: narrower });
    expect(short.violations).toEqual([
      'salvage lost 1 record(s) without reporting them (first LSN 9, last 9)',
    ]);
  });

  it('flags a wrong record, however much it kept', () => {
    const found = lsns(1, RECORDS).map((f) => ({ ...f, matches: f.lsn !== 40 }));
    expect(
      judgeSalvage(plain, plain.files, { kind: 'opened', found, report: report() }).violations,
    ).toEqual(["LSN 40 came back with bytes that are not the original's"]);
  });
});
