import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyncFsStorageIo } from '@walnut/storage-io';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { SegmentedWal } from '../src/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'fixtures', 'cut-child.mjs');
const DIST = join(here, '..', 'dist', 'index.js');
const CYCLES = Number(process.env.WALNUT_CRASH_CYCLES ?? 20);

/** What the killed child had said: the acknowledged records, and a cut it had started. */
interface Said {
  acked: Map<bigint, string>;
  cutting: bigint | null;
  /** Records acknowledged and cuts completed, over every run. */
  acks: number;
  cuts: number;
}

/** Runs the child on `dir` until a random moment after its first acknowledgement, then SIGKILLs it. */
function runChild(dir: string, seed: number, killAfterMs: number, said: Said): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let partial = '';
    let stderr = '';
    let timer: NodeJS.Timeout | null = null;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const [kind, lsn, tag] = line.split(' ');
        if (kind === 'A') {
          said.acked.set(BigInt(lsn!), tag!);
          said.acks++;
        } else if (kind === 'C') said.cutting = BigInt(lsn!);
        else if (kind === 'D') {
          for (const k of said.acked.keys()) if (k > BigInt(lsn!)) said.acked.delete(k);
          said.cutting = null;
          said.cuts++;
        }
        timer ??= setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      }
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (timer !== null) clearTimeout(timer);
      if (signal === 'SIGKILL' && timer !== null) resolve();
      else reject(new Error(`the child ended by itself or said nothing (code ${code}): ${stderr}`));
    });
  });
}

describe('truncateAfter under process crashes (SIGKILL at random moments)', () => {
  afterAll(removeTempDirs);

  it(`keeps every acknowledged record not cut, and a cut is whole or not at all, over ${CYCLES} kills`, {
    timeout: 300_000,
  }, async () => {
    if (
      !existsSync(DIST) ||
      statSync(DIST).mtimeMs < statSync(join(here, '..', 'src', 'cut', 'truncate-after.ts')).mtimeMs
    ) {
      throw new Error(
        `${DIST} is missing or older than src/: run \`npx -y pnpm@10.34.9 run build\` first`,
      );
    }
    const dir = tempDir('walnut-cut-crash-');
    const said: Said = { acked: new Map(), cutting: null, acks: 0, cuts: 0 };
    let seed = Number(process.env.WALNUT_CRASH_SEED ?? Date.now()) >>> 0;
    let cutsSeenInterrupted = 0;
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      await runChild(dir, seed, seed % 150, said);
      const wal = await SegmentedWal.open({ dir, io: new SyncFsStorageIo() });
      const records = new Map<bigint, string>();
      let expected = wal.floorLsn;
      for await (const r of wal.replay()) {
        expect(r.lsn).toBe(expected++);
        records.set(r.lsn, r.payload.toString().replace(/\.*$/, ''));
      }
      await wal.close();
      const last = expected - 1n;
      const ackedLast = [...said.acked.keys()].reduce((a, b) => (a > b ? a : b), 0n);
      if (said.cutting !== null && last < ackedLast) {
        // Killed while cutting: then the cut is whole, and nothing was appended after it yet.
        expect(last).toBe(said.cutting);
        cutsSeenInterrupted++;
        for (const k of said.acked.keys()) if (k > last) said.acked.delete(k);
      }
      said.cutting = null;
      for (const [lsn, tag] of said.acked) {
        if (lsn < wal.floorLsn) continue;
        expect(records.get(lsn), `acknowledged LSN ${lsn} (log ends at ${last})`).toBe(tag);
      }
    }
    // The children appended and cut at all (how much depends on the machine's load, and how
    // often a kill landed inside a cut on timing: both are reported, not required).
    expect(said.acks).toBeGreaterThan(0);
    expect(said.cuts).toBeGreaterThan(0);
    console.log(
      `truncateAfter SIGKILL test: ${CYCLES} kills, ${said.acks} records acknowledged, ${said.cuts} cuts done, ${cutsSeenInterrupted} kills inside a cut`,
    );
  });
});
