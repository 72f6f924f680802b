import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CrashFs, type CrashFsSummary } from './crashfs/crash-fs.js';
import { fileKindOf } from './crashfs/file-kinds.js';
import { Rng } from './random.js';

export interface FsServeOptions {
  cycles: number;
  seed: number;
  workDir: string;
  progress?: (line: string) => void;
}

export interface FsServeTally {
  cycles: number;
  /**
   * Power cuts by the kind of file the refused operation was on (file-kinds.ts), or 'while
   * serving' for a cut made after a drawn number of acknowledgements.
   */
  byKind: Record<string, number>;
  /** Cycles whose cut struck before the server printed its URL. */
  cutBeforeListening: number;
  torn: number;
  reordered: number;
  /** POSTs answered 200 or 204, and how many of those were a retry answered as a duplicate. */
  acknowledged: number;
  retriesAsDuplicates: number;
  /** Acknowledged POSTs missing, or not at the offset they were acknowledged with. */
  lost: number;
  /** A producer's message found twice. */
  duplicates: number;
  violations: string[];
}

const PRODUCERS = 4;
const STREAMS = 2;
const POSTS_PER_PRODUCER = 12;
const JSON_TYPE = { 'content-type': 'application/json' };

/** `walnut serve`, the command itself (soak/src and soak/dist are both two levels down). */
const CLI = fileURLToPath(new URL('../../packages/cli/dist/cli.js', import.meta.url));

/** What the server must show, from every acknowledgement so far. */
interface Expectations {
  /** `${producer}:${seq}` → the offset of its message, from its `Stream-Next-Offset`. */
  acked: Map<string, number>;
  /** Per stream, the messages read at the last check, by offset: never to change. */
  seen: Map<string, string[]>;
}

/**
 * Power cuts at the file-system boundary under `walnut serve`: each cycle mounts crashfs
 * over the server's directory, starts the command on it, and runs HTTP producers
 * (`Producer-Id`/`-Epoch`/`-Seq`) that resend, in later cycles, every POST they never saw
 * acknowledged. Power is cut after a random number of changing operations (or at the end),
 * the server is SIGKILLed with the machine, and then the command is started again on what
 * survived and held to every acknowledgement: no acknowledged POST lost or moved, none
 * twice, no offset given to other data, and the server always starts.
 */
export async function runFsPowerServe(options: FsServeOptions): Promise<FsServeTally> {
  const tally: FsServeTally = {
    cycles: 0,
    byKind: {},
    cutBeforeListening: 0,
    torn: 0,
    reordered: 0,
    acknowledged: 0,
    retriesAsDuplicates: 0,
    lost: 0,
    duplicates: 0,
    violations: [],
  };
  const backing = join(options.workDir, 'fs-serve');
  const mountpoint = join(options.workDir, 'fs-serve-mount');
  rmSync(backing, { recursive: true, force: true });
  mkdirSync(join(backing, 'streams'), { recursive: true });
  mkdirSync(mountpoint, { recursive: true });
  const expect: Expectations = { acked: new Map(), seen: new Map() };
  let opsEstimate: number | undefined;
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const rng = Rng.forCase(options.seed, 'fs-serve', cycle);
    // The first two cycles run uncut (the first also creates the log's files, so it does
    // more than the rest): the latest uncut cycle's count is what later cuts choose from.
    // Half the others are cut at a drawn operation (often while the server starts: opening
    // the log writes), half after a drawn number of acknowledgements, POSTs in flight.
    const drawn = cycle >= 2 && opsEstimate !== undefined;
    const byAcks = drawn && rng.chance(0.5);
    const crashAfter = drawn && !byAcks ? rng.int(0, opsEstimate!) : undefined;
    const cutAtAck = byAcks ? rng.int(1, PRODUCERS * POSTS_PER_PRODUCER) : undefined;
    const tearSeed = rng.chance(0.5) ? rng.u32() : undefined;
    const reorderSeed = rng.chance(0.5) ? rng.u32() : undefined;
    const fs = await CrashFs.mount({ backing, mountpoint, crashAfter, tearSeed, reorderSeed });
    let summary: CrashFsSummary;
    const found: string[] = [];
    try {
      const server = await startServe(join(mountpoint, 'streams'));
      if (server.url === undefined) tally.cutBeforeListening++;
      else await produce(server.url, expect, tally, cutAtAck, fs);
      if (fs.crashPoint === null) await fs.crash();
      // The power cut stops the machine: the server gets no chance to shut down.
      await stop(server.child, 'SIGKILL');
      if (server.url === undefined && fs.crashPoint?.operation === 'command') {
        found.push(`the server did not start without a power cut: ${server.stderr.trim()}`);
      }
    } finally {
      summary = await fs.unmount();
    }
    tally.cycles++;
    const kind =
      summary.crash === null
        ? 'none'
        : cutAtAck !== undefined && summary.crash.operation === 'command'
          ? 'while serving'
          : fileKindOf(summary.crash);
    tally.byKind[kind] = (tally.byKind[kind] ?? 0) + 1;
    if (summary.torn[1] > 0) tally.torn++;
    if (summary.pagesKept > 0) tally.reordered++;
    if (!drawn) opsEstimate = summary.ops;
    await check(join(backing, 'streams'), expect, tally, found);
    const where = `cycle ${cycle} (seed ${options.seed}, crash after ${crashAfter ?? (cutAtAck === undefined ? 'the end' : `${cutAtAck} acknowledgements`)}, cut at ${summary.crash?.operation ?? '-'} ${summary.crash?.path ?? ''})`;
    for (const f of found) tally.violations.push(`${where}: ${f}`);
    if (found.length > 0) break;
    if ((cycle + 1) % 10 === 0 || cycle + 1 === options.cycles) {
      options.progress?.(
        `fs power losses under walnut serve: ${cycle + 1}/${options.cycles}, ${tally.acknowledged} acknowledged, ${tally.lost} lost, ${tally.duplicates} twice`,
      );
    }
  }
  rmSync(backing, { recursive: true, force: true });
  rmSync(mountpoint, { recursive: true, force: true });
  return tally;
}

/** Each producer's next seq: the first it has no acknowledgement for. */
function nextSeq(expect: Expectations, p: number): number {
  let seq = 0;
  while (expect.acked.has(`${p}:${seq}`)) seq++;
  return seq;
}

/**
 * The producers, each POSTing in order from its first unacknowledged seq until a POST
 * fails (the power is cut: the rest waits for the next cycle) or it has sent its share.
 * The power is cut on `fs` at the `cutAtAck`th acknowledgement.
 */
async function produce(
  url: string,
  expect: Expectations,
  tally: FsServeTally,
  cutAtAck: number | undefined,
  fs: CrashFs,
): Promise<void> {
  let acks = 0;
  let cut: Promise<unknown> | undefined;
  const streams = Array.from({ length: STREAMS }, (_, s) => `${url}/v1/stream/s${s}`);
  for (const stream of streams) {
    const put = await request(stream, { method: 'PUT', headers: JSON_TYPE });
    if (put === undefined || (put.status !== 201 && put.status !== 200)) return;
  }
  const producer = async (p: number) => {
    const first = nextSeq(expect, p);
    for (let seq = first; seq < first + POSTS_PER_PRODUCER; seq++) {
      const res = await request(streams[p % STREAMS]!, {
        method: 'POST',
        headers: {
          ...JSON_TYPE,
          'producer-id': `p${p}`,
          'producer-epoch': '0',
          'producer-seq': String(seq),
        },
        body: JSON.stringify({ p, seq }),
      });
      if (res === undefined || (res.status !== 200 && res.status !== 204)) return;
      const next = res.headers.get('stream-next-offset');
      if (next === null) return;
      expect.acked.set(`${p}:${seq}`, Number(next.split('_')[1]) - 1);
      tally.acknowledged++;
      if (++acks === cutAtAck) cut = fs.crash();
      if (res.status === 204) tally.retriesAsDuplicates++;
    }
  };
  await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));
  await cut;
}

/** A request's response with its body read, or undefined if the server did not answer. */
async function request(url: string, init: RequestInit): Promise<Response | undefined> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(20_000) });
    await res.arrayBuffer();
    return res;
  } catch {
    return undefined;
  }
}

/** Starts `walnut serve` on what survived and holds each stream to every acknowledgement. */
async function check(
  dir: string,
  expect: Expectations,
  tally: FsServeTally,
  found: string[],
): Promise<void> {
  const server = await startServe(dir);
  try {
    if (server.url === undefined) {
      found.push(`the server did not start again: ${server.stderr.trim()}`);
      return;
    }
    const where = new Map<string, number>();
    for (let s = 0; s < STREAMS; s++) {
      const messages = await readAll(`${server.url}/v1/stream/s${s}`);
      if (messages === undefined) {
        found.push(`stream s${s} could not be read`);
        continue;
      }
      const before = expect.seen.get(`s${s}`) ?? [];
      const changed = before.findIndex((m, offset) => messages[offset] !== m);
      if (changed >= 0) {
        found.push(`s${s}: offset ${changed} held ${before[changed]}, now ${messages[changed]}`);
      }
      expect.seen.set(`s${s}`, messages);
      for (const [offset, key] of messages.entries()) {
        if (where.has(key)) {
          tally.duplicates++;
          found.push(`s${s}: ${key} at offsets ${where.get(key)} and ${offset}`);
        }
        where.set(key, offset);
      }
    }
    for (const [key, offset] of expect.acked) {
      if (where.get(key) === offset) continue;
      tally.lost++;
      if (found.length < 5) {
        found.push(`acknowledged ${key} at ${offset} is ${where.get(key) ?? 'missing'}`);
      }
    }
  } finally {
    await stop(server.child, 'SIGTERM');
    if (server.url !== undefined && server.child.exitCode !== 0) {
      found.push(`the server exited with ${server.child.exitCode} on SIGTERM`);
    }
  }
}

/** A stream's messages as `p:seq`, in offset order (a stream never created holds none). */
async function readAll(url: string): Promise<string[] | undefined> {
  const all: string[] = [];
  for (let offset = '-1', pages = 0; pages < 1_000; pages++) {
    const res = await fetch(`${url}?offset=${offset}`, { signal: AbortSignal.timeout(20_000) });
    if (res.status === 404 && offset === '-1') return all;
    if (res.status !== 200) return undefined;
    const page = (await res.json()) as { p: number; seq: number }[];
    for (const m of page) all.push(`${m.p}:${m.seq}`);
    offset = res.headers.get('stream-next-offset')!;
    if (res.headers.get('stream-up-to-date') === 'true') return all;
  }
  return undefined;
}

interface Serving {
  readonly child: ChildProcess;
  /** Undefined when the server ended before printing it. */
  readonly url: string | undefined;
  /** Its standard error so far (it grows while the server runs). */
  readonly stderr: string;
}

async function startServe(dir: string): Promise<Serving> {
  const child = spawn(process.execPath, [CLI, 'serve', dir, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const serving = { child, url: undefined as string | undefined, stderr: '' };
  child.stderr!.setEncoding('utf8').on('data', (s: string) => {
    serving.stderr += s;
  });
  serving.url = await new Promise<string | undefined>((resolve) => {
    const timer = setTimeout(() => resolve(undefined), 60_000);
    createInterface({ input: child.stdout! }).once('line', (line) => {
      clearTimeout(timer);
      resolve(line);
    });
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
  return serving;
}

async function stop(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
