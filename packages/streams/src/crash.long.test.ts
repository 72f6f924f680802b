import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../test/temp.js';
import { StreamErrorCode } from './errors.js';
import { Streams } from './streams.js';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = join(here, '..', 'test', 'fixtures', 'crash-producers.mjs');
const builtEntry = join(here, '..', 'dist', 'index.js');
const cycles = Number(process.env.WALNUT_CRASH_CYCLES ?? 12);
const PRODUCERS = 6;

interface Child {
  /** `${producer}:${seq}` → the first offset the append was acknowledged with. */
  readonly acks: Map<string, number>;
  readonly deleted: string[];
  readonly expired: string[];
  /** When the last of them expires (ms since the epoch). */
  readonly expiresBy: number;
  readonly duplicates: number;
  /** Records compactions copied forward, and segments they deleted. */
  readonly copied: number;
  readonly segmentsDeleted: number;
  /** Open started from a checkpoint (it is written every 50 calls). */
  readonly fromCheckpoint: boolean;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
}

/** Runs the producers from `next` (per producer, the first seq not acknowledged) and kills them. */
function runChild(dir: string, cycle: number, next: number[], killAfterMs: number) {
  return new Promise<Child>((resolve, reject) => {
    const child = spawn(process.execPath, [fixture, dir, String(cycle), next.join(',')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks = new Map<string, number>();
    const deleted: string[] = [];
    const expired: string[] = [];
    let duplicates = 0;
    let copied = 0;
    let segmentsDeleted = 0;
    let fromCheckpoint = false;
    let expiresBy = 0;
    let pending = '';
    let stderr = '';
    // A child that never gets ready is killed and reported by its missing acks.
    let timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) {
        const [kind, a, b, c, d] = line.split(' ');
        if (kind === 'ready') {
          fromCheckpoint = a !== '0';
          clearTimeout(timer);
          timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        } else if (kind === 'ack') {
          acks.set(`${a}:${b}`, Number(c));
          if (d === '1') duplicates++;
        } else if (kind === 'compacted') {
          copied += Number(a);
          segmentsDeleted += Number(b);
        } else if (kind === 'deleted') deleted.push(a!);
        else if (kind === 'expired') {
          expired.push(a!);
          expiresBy = Math.max(expiresBy, Number(b));
        }
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(timer);
      resolve({
        ...{ acks, deleted, expired, expiresBy, duplicates, copied, segmentsDeleted },
        ...{ fromCheckpoint, signal, stderr },
      });
    });
  });
}

/** A small deterministic generator, so a failing run can be repeated. */
function random(seed: number) {
  return () => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0;
    return seed / 2 ** 32;
  };
}

describe('a writer killed by SIGKILL while idempotent producers retry', () => {
  it(`loses no acknowledged append and writes none twice over ${cycles} kills`, async () => {
    if (!existsSync(builtEntry)) {
      throw new Error('the crash test runs the built package: run the streams build first');
    }
    const dir = tempDir();
    const next = Array.from({ length: PRODUCERS }, () => 0);
    /** Every acknowledgement of every cycle: an offset, once given, never changes. */
    const acked = new Map<string, number>();
    const deleted: string[] = [];
    const expired: string[] = [];
    const rand = random(0x5eed);
    let kills = 0;
    let duplicates = 0;
    let copied = 0;
    let segmentsDeleted = 0;
    let fromCheckpoints = 0;
    let expiresBy = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      // Every third child lives long enough for compactions to finish and delete segments.
      const life =
        cycle % 3 === 2 ? 1500 + Math.floor(rand() * 1500) : 50 + Math.floor(rand() * 400);
      const child = await runChild(dir, cycle, next, life);
      expect(child.stderr).toBe('');
      if (child.signal === 'SIGKILL') kills++;
      duplicates += child.duplicates;
      copied += child.copied;
      segmentsDeleted += child.segmentsDeleted;
      if (child.fromCheckpoint) fromCheckpoints++;
      for (const [key, first] of child.acks) {
        if (acked.has(key))
          expect(first, `${key} acknowledged again elsewhere`).toBe(acked.get(key));
        acked.set(key, first);
      }
      deleted.push(...child.deleted);
      expired.push(...child.expired);
      expiresBy = Math.max(expiresBy, child.expiresBy);
      for (let p = 0; p < PRODUCERS; p++) {
        while (acked.has(`${p}:${next[p]}`)) next[p]!++;
      }
    }

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, expiresBy - Date.now() + 10)));
    const streams = await Streams.open(dir);
    const seen = new Map<string, number>();
    for (const name of ['even', 'odd']) {
      const expectedNext = new Map<number, number>();
      for (let from = 0; ; ) {
        const read = await streams.read(name, from, { maxRecords: 10_000 });
        for (const { offset, payload } of read.records) {
          const [producer, seq, part] = payload.toString().split(':').map(Number);
          const want = expectedNext.get(producer!) ?? 0;
          // Each producer's appends appear once each, in seq order, each one whole.
          if (part === 0) {
            expect(seq, `producer ${producer} at offset ${offset}`).toBe(want);
            expectedNext.set(producer!, want + 1);
            seen.set(`${producer}:${seq}`, offset);
          } else {
            expect(seq).toBe(want - 1);
          }
        }
        if (read.records.length === 0) break;
        from = read.next;
      }
    }
    const lost = [...acked].filter(([key, first]) => seen.get(key) !== first);
    expect(lost).toEqual([]);
    for (const name of deleted) {
      await expect(streams.read(name)).rejects.toMatchObject({ code: StreamErrorCode.NOT_FOUND });
    }
    for (const name of expired) expect(streams.list()).not.toContain(name);
    // Segments went although both producer streams live from the first record on.
    const floor = streams.log.floorLsn;
    expect(floor).toBeGreaterThan(1n);
    await streams.shutdown();
    expect(kills).toBeGreaterThan(cycles / 2);
    expect(fromCheckpoints).toBeGreaterThan(cycles / 2);
    expect(acked.size).toBeGreaterThan(cycles * PRODUCERS);
    expect(copied).toBeGreaterThan(0);
    console.log(
      `streams crash: ${kills} kills (${fromCheckpoints} reopens from a checkpoint), ${acked.size} acknowledged appends, ${duplicates} retries answered as duplicates, ${copied} records copied forward by compactions (${segmentsDeleted} segments deleted by them, the log's floor at LSN ${floor}), 0 lost, 0 written twice`,
    );
  }, 300_000);
});
