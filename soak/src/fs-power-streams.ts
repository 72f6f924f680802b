import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { crc32c, isWalError } from '@walnut/codec';
import { Streams } from '@walnut/streams';
import { CrashFs, type CrashFsSummary } from './crashfs/crash-fs.js';
import { fileKindOf } from './crashfs/file-kinds.js';
import {
  PRODUCER_STREAMS,
  PRODUCERS,
  SEGMENT_SIZE,
  STREAM_STEPS,
  type StreamStep,
  type StreamsStepConfig,
} from './fs-power-streams-config.js';
import { Rng } from './random.js';
import { childScript, runStep, type StepRun } from './step-child.js';

export interface FsStreamsOptions {
  cycles: number;
  seed: number;
  workDir: string;
  progress?: (line: string) => void;
}

export interface FsStreamsTally {
  cycles: number;
  byStep: Record<string, number>;
  /** Power cuts by the kind of file the refused operation was on (file-kinds.ts). */
  byKind: Record<string, number>;
  torn: number;
  reordered: number;
  /** Acknowledgements the children printed (appends, creates, deletes, checkpoints...). */
  acknowledged: number;
  /** Producer appends acknowledged, and how many of those were answered as duplicates. */
  appendsAcknowledged: number;
  retriesAsDuplicates: number;
  /** Acknowledged appends, puts, creates or checkpoints missing or changed after a reopen. */
  lost: number;
  /** A producer append found twice in its stream. */
  duplicates: number;
  /** Segments the children's reclaims and compactions deleted. */
  segmentsReclaimed: number;
  /** Records the compactions copied forward. */
  recordsCopied: number;
  violations: string[];
}

const script = childScript('fs-power-streams-child');

/** What one streams log must show, from every acknowledgement so far. */
interface LogExpectations {
  /** Name → offset → CRC32C of acknowledged single-payload appends. */
  puts: Map<string, Map<number, number>>;
  /** Acknowledged creates not deleted since. */
  created: Set<string>;
  /** Deletes called but not acknowledged: either outcome is allowed, once. */
  deleting: Set<string>;
  /** Must stay absent for good. */
  deleted: Set<string>;
  checkpointAcked: number;
}

interface Expectations {
  main: LogExpectations;
  churn: LogExpectations;
  /** `${producer}:${seq}` → the first offset its append was acknowledged with. */
  acked: Map<string, number>;
  /** Per producer stream, the payloads seen at the last reopen, by offset: never to change. */
  seen: Map<string, string[]>;
  /** Name → expiry time: absent once it passed. */
  expires: Map<string, number>;
}

const freshLog = (): LogExpectations => ({
  puts: new Map(),
  created: new Set(),
  deleting: new Set(),
  deleted: new Set(),
  checkpointAcked: 0,
});

/**
 * Power cuts at the file-system boundary under `@walnut/streams`: each cycle mounts crashfs
 * over two streams logs and runs one step in a child (append, create, delete, expiry,
 * checkpoint or compaction — the last, in a log of its own, deletes a stream whose records
 * lie between a survivor's and compacts: the survivor's are copied forward, the segments
 * deleted), always beside four idempotent producers that resend every append the parent
 * never saw acknowledged. Power is cut after a random number of changing operations (or at
 * the end); then both logs are reopened here with the other storage backend and held to
 * every acknowledgement: no acknowledged append, put, create or checkpoint lost, no
 * producer append twice, no offset given to other data, deleted and expired streams absent,
 * and both logs open.
 */
export async function runFsPowerStreams(options: FsStreamsOptions): Promise<FsStreamsTally> {
  const tally: FsStreamsTally = {
    cycles: 0,
    byStep: {},
    byKind: {},
    torn: 0,
    reordered: 0,
    acknowledged: 0,
    appendsAcknowledged: 0,
    retriesAsDuplicates: 0,
    lost: 0,
    duplicates: 0,
    segmentsReclaimed: 0,
    recordsCopied: 0,
    violations: [],
  };
  const backing = join(options.workDir, 'fs-streams');
  const mountpoint = join(options.workDir, 'fs-streams-mount');
  rmSync(backing, { recursive: true, force: true });
  mkdirSync(join(backing, 'streams'), { recursive: true });
  mkdirSync(join(backing, 'churn'), { recursive: true });
  mkdirSync(mountpoint, { recursive: true });
  const expect: Expectations = {
    main: freshLog(),
    churn: freshLog(),
    acked: new Map(),
    seen: new Map(),
    expires: new Map(),
  };
  const opsEstimate = new Map<StreamStep, number>();
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const rng = Rng.forCase(options.seed, 'fs-streams', cycle);
    // Each step in turn: its first run, uncut, tells how many operations later cuts choose from.
    const step = STREAM_STEPS[cycle % STREAM_STEPS.length]!;
    const backend = cycle % 2 === 0 ? 'io_uring' : 'sync-fs';
    const estimate = opsEstimate.get(step);
    // The checkpoint step's producers finish early and its checkpoints go on: a cut from its
    // second half lands on the checkpoint's files or the record before each nearly always
    // (in the first half, often not).
    const from = step === 'checkpoint' && estimate !== undefined ? Math.floor(estimate / 2) : 0;
    const crashAfter = estimate === undefined ? undefined : rng.int(from, estimate);
    const tearSeed = rng.chance(0.5) ? rng.u32() : undefined;
    const reorderSeed = rng.chance(0.5) ? rng.u32() : undefined;
    const next = Array.from({ length: PRODUCERS }, (_, p) => {
      let seq = 0;
      while (expect.acked.has(`${p}:${seq}`)) seq++;
      return seq;
    });
    const config: StreamsStepConfig = {
      step,
      dir: join(mountpoint, 'streams'),
      churnDir: join(mountpoint, 'churn'),
      backend,
      cycle,
      seed: rng.u32(),
      next,
      appends: step === 'append' ? 40 : step === 'checkpoint' ? 4 : 12,
      deletable: step === 'delete' ? [...expect.main.created].slice(0, 4) : [],
      churnLive: step === 'compaction' ? [...expect.churn.created] : [],
    };
    const fs = await CrashFs.mount({ backing, mountpoint, crashAfter, tearSeed, reorderSeed });
    let run: StepRun;
    let summary: CrashFsSummary;
    try {
      run = await runStep(script, config);
      if (fs.crashPoint === null) await fs.crash();
    } finally {
      summary = await fs.unmount();
    }
    tally.cycles++;
    tally.byStep[step] = (tally.byStep[step] ?? 0) + 1;
    const kind = summary.crash === null ? 'none' : fileKindOf(summary.crash);
    tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
    if (summary.torn[1] > 0) tally.torn++;
    if (summary.pagesKept > 0) tally.reordered++;
    const where = `cycle ${cycle} (seed ${options.seed}, ${step} on ${backend}, crash after ${crashAfter ?? 'the end'}${tearSeed === undefined ? '' : `, tear ${tearSeed}`}${reorderSeed === undefined ? '' : `, reorder ${reorderSeed}`}, cut at ${describe(summary)})`;
    const found: string[] = [];
    if (summary.crash?.operation === 'command') {
      if (run.exit === 'code 0') opsEstimate.set(step, Math.max(estimate ?? 0, summary.ops));
      else found.push(`the step failed without a power cut (${run.exit}): ${run.stderr}`);
    }
    takeIn(run.lines, expect, tally);
    try {
      await checkMain(join(backing, 'streams'), backend, expect, tally, found);
      await checkLog(join(backing, 'churn'), backend, expect.churn, tally, found, 'churn');
    } catch (error) {
      const code = isWalError(error) ? error.code : 'not a WalError';
      found.push(`reopening failed (${code}): ${(error as Error).message}`);
    }
    for (const f of found) tally.violations.push(`${where}: ${f}`);
    if (found.length > 0) break;
    if ((cycle + 1) % 25 === 0 || cycle + 1 === options.cycles) {
      options.progress?.(
        `fs power losses under streams: ${cycle + 1}/${options.cycles}, ${tally.acknowledged} acknowledged, ${tally.lost} lost, ${tally.duplicates} duplicates`,
      );
    }
  }
  rmSync(backing, { recursive: true, force: true });
  rmSync(mountpoint, { recursive: true, force: true });
  return tally;
}

/** Takes in a child's acknowledgements. */
function takeIn(lines: readonly string[], expect: Expectations, tally: FsStreamsTally): void {
  for (const line of lines) {
    const [what, a, b, c, d] = line.split(' ');
    const log = what!.startsWith('k') ? expect.churn : expect.main;
    const verb = what!.startsWith('k') ? what!.slice(1) : what;
    if (what === 'ack') {
      const key = `${a}:${b}`;
      if (expect.acked.has(key) && expect.acked.get(key) !== Number(c)) {
        tally.violations.push(
          `append ${key} acknowledged at ${c}, before at ${expect.acked.get(key)}`,
        );
      }
      expect.acked.set(key, Number(c));
      tally.appendsAcknowledged++;
      if (d === '1') tally.retriesAsDuplicates++;
    } else if (verb === 'created') log.created.add(a!);
    else if (verb === 'put') {
      const puts = log.puts.get(a!) ?? new Map<number, number>();
      puts.set(Number(b), Number(c));
      log.puts.set(a!, puts);
    } else if (verb === 'deleting') log.deleting.add(a!);
    else if (verb === 'deleted') {
      log.deleting.delete(a!);
      log.created.delete(a!);
      log.deleted.add(a!);
    } else if (verb === 'checkpoint') {
      // A checkpoint of streams a failed write broke resolves with nothing: no acknowledgement.
      if (a === 'undefined') continue;
      log.checkpointAcked = Math.max(log.checkpointAcked, Number(a));
    } else if (what === 'expires') expect.expires.set(a!, Number(b));
    else if (what === 'reclaimed') tally.segmentsReclaimed += Number(a);
    else if (what === 'compacted') {
      tally.recordsCopied += Number(a);
      tally.segmentsReclaimed += Number(b);
    } else continue;
    tally.acknowledged++;
  }
}

async function openStreams(dir: string, backend: StreamsStepConfig['backend']) {
  return Streams.open(dir, {
    segmentSize: SEGMENT_SIZE,
    storageIo: backend === 'io_uring' ? 'sync-fs' : 'io_uring',
    checkpointEvery: 0,
  });
}

/** The producers' streams, the created, deleted and expired ones, and the checkpoint. */
async function checkMain(
  dir: string,
  backend: StreamsStepConfig['backend'],
  expect: Expectations,
  tally: FsStreamsTally,
  found: string[],
): Promise<void> {
  const latestExpiry = Math.max(0, ...expect.expires.values());
  if (latestExpiry >= Date.now()) await sleep(latestExpiry - Date.now() + 5);
  await checkLog(dir, backend, expect.main, tally, found, 'streams', async (streams) => {
    const firsts = new Map<string, number>();
    for (const name of PRODUCER_STREAMS) {
      const payloads = streams.list().includes(name) ? await readAll(streams, name) : [];
      const before = expect.seen.get(name) ?? [];
      const changed = before.findIndex((p, offset) => payloads[offset] !== p);
      if (changed >= 0) {
        found.push(
          `${name}: offset ${changed} held ${before[changed]}, now ${payloads[changed] ?? 'nothing'}`,
        );
      }
      expect.seen.set(name, payloads);
      checkProducerOrder(name, payloads, firsts, tally, found);
    }
    for (const [key, first] of expect.acked) {
      if (firsts.get(key) !== first) {
        tally.lost++;
        if (found.length < 5)
          found.push(`acknowledged append ${key} at ${first} is ${firsts.get(key) ?? 'missing'}`);
      }
    }
    const listed = new Set(streams.list());
    for (const [name, at] of expect.expires) {
      if (listed.has(name)) found.push(`stream ${name} expired at ${at} and is listed`);
    }
  });
}

/** Each producer's appends once each, in seq order, each with all its payloads. */
function checkProducerOrder(
  name: string,
  payloads: readonly string[],
  firsts: Map<string, number>,
  tally: FsStreamsTally,
  found: string[],
): void {
  const at = new Map<number, { seq: number; parts: number }>();
  const whole = (producer: number) => {
    const last = at.get(producer);
    if (last !== undefined && last.parts !== 1 + (last.seq % 3)) {
      found.push(`${name}: append ${producer}:${last.seq} holds ${last.parts} of its payloads`);
    }
  };
  for (const [offset, payload] of payloads.entries()) {
    const [producer, seq, part] = payload.split(':').map(Number) as [number, number, number];
    const last = at.get(producer);
    if (part === 0) {
      whole(producer);
      const want = last === undefined ? 0 : last.seq + 1;
      if (seq !== want) {
        if (seq <= (last?.seq ?? -1)) tally.duplicates++;
        found.push(
          `${name}: producer ${producer}'s append ${seq} at offset ${offset}, ${want} expected`,
        );
      }
      at.set(producer, { seq, parts: 1 });
      firsts.set(`${producer}:${seq}`, offset);
    } else if (last?.seq !== seq || last.parts !== part) {
      found.push(`${name}: payload ${producer}:${seq}:${part} out of place at offset ${offset}`);
    } else last.parts++;
  }
  for (const producer of at.keys()) whole(producer);
}

/** One log: it opens, holds its acknowledged puts, creates and checkpoint, not its deleted. */
async function checkLog(
  dir: string,
  backend: StreamsStepConfig['backend'],
  log: LogExpectations,
  tally: FsStreamsTally,
  found: string[],
  label: string,
  more?: (streams: Streams) => Promise<void>,
): Promise<void> {
  const streams = await openStreams(dir, backend);
  try {
    if (streams.recovery.checkpointLsn < BigInt(log.checkpointAcked)) {
      tally.lost++;
      found.push(
        `${label}: open started from checkpoint ${streams.recovery.checkpointLsn}, ${log.checkpointAcked} was acknowledged`,
      );
    }
    const listed = new Set(streams.list());
    for (const name of log.deleting) {
      if (listed.has(name)) continue; // the delete did not survive: the stream lives on
      log.created.delete(name);
      log.deleted.add(name);
    }
    log.deleting.clear();
    for (const name of log.deleted) {
      if (listed.has(name)) found.push(`${label}: deleted stream ${name} is back`);
      log.puts.delete(name);
    }
    for (const name of log.created) {
      if (!listed.has(name)) {
        tally.lost++;
        found.push(`${label}: created stream ${name} is missing`);
        continue;
      }
      const payloads = await readAll(streams, name, 'hex');
      for (const [offset, crc] of log.puts.get(name) ?? []) {
        const payload = payloads[offset];
        if (payload === undefined || crc32c(Buffer.from(payload, 'hex')) !== crc) {
          tally.lost++;
          if (found.length < 5)
            found.push(`${label}: ${name} offset ${offset} is missing or changed`);
        }
      }
    }
    await more?.(streams);
  } finally {
    await streams.shutdown();
  }
}

async function readAll(
  streams: Streams,
  name: string,
  encoding: BufferEncoding = 'utf8',
): Promise<string[]> {
  const out: string[] = [];
  for (let from = 0; out.length < 1_000_000; ) {
    const read = await streams.read(name, from, { maxRecords: 10_000 });
    if (read.records.length === 0) break;
    for (const record of read.records) out.push(record.payload.toString(encoding));
    from = read.next;
  }
  return out;
}

function describe(summary: CrashFsSummary): string {
  const c = summary.crash;
  if (c === null) return 'nothing';
  const torn = summary.torn[1] > 0 ? `, torn ${summary.torn[0]}/${summary.torn[1]} bytes` : '';
  return `op ${c.op} (${c.operation} ${c.path}${torn})`;
}
