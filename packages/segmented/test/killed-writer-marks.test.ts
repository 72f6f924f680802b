import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BodyKind, durableMarkEnd, FILE_HEADER_SIZE, FRAME_HEADER_SIZE } from '@walnut/codec';
import { createStorageIo } from '@walnut/storage-io';
import {
  expectWalError,
  ioUringForTests,
  removeTempDirs,
  tempDir,
} from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { SegmentedWal } from '../src/index.js';
import { collect } from './helpers.js';

// Issue 57 item 6, for a writer killed before it closed: the durable marks it put among its
// frames as its syncs went on (write/durable-marks.ts) make zeros over synced frames of the
// newest segment damage, which the default open refuses, never a torn tail it cuts.

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'fixtures', 'synced-child.mjs');
const ROUNDS = 300;
const SECTOR = 512;

/** Runs the child until it says its rounds are durable, then SIGKILLs it; the last LSN. */
function runAndKill(dir: string, backend: string): Promise<bigint> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(ROUNDS), backend], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    let last: bigint | null = null;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const said = /^S (\d+)$/m.exec(out);
      if (said !== null && last === null) {
        last = BigInt(said[1]!);
        child.kill('SIGKILL');
      }
    });
    child.stderr.on('data', (d) => {
      err += String(d);
    });
    const watchdog = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (signal === 'SIGKILL' && last !== null) resolve(last);
      else reject(new Error(`the writer ended without its rounds (code ${code}): ${err}`));
    });
  });
}

interface Frames {
  records: { start: number; lsn: bigint }[];
  marks: { at: number; durableEnd: number }[];
}

/** The record frames and durable marks of a segment file, in file order. */
function framesOf(bytes: Buffer): Frames {
  const frames: Frames = { records: [], marks: [] };
  for (let at = FILE_HEADER_SIZE; at + FRAME_HEADER_SIZE <= bytes.length; ) {
    const len = bytes.readUInt32LE(at + 4);
    if (len === 0) break;
    const body = at + FRAME_HEADER_SIZE;
    const durableEnd = durableMarkEnd(bytes, body, body + len);
    if (durableEnd >= 0) frames.marks.push({ at, durableEnd });
    else if (bytes[body] === BodyKind.RECORD)
      frames.records.push({ start: at, lsn: bytes.readBigUInt64LE(body + 4) });
    at = body + len;
  }
  return frames;
}

const backends = ['sync-fs', ...(ioUringForTests().available ? ['io_uring'] : [])];

describe.each(backends)('a writer SIGKILLed after %s sync rounds, never closed', (backend) => {
  afterAll(removeTempDirs);

  it('left durable marks among its frames, each stating no more than its own offset', async () => {
    const dir = tempDir('walnut-marks-');
    await runAndKill(dir, backend);
    const segment = readdirSync(dir).find((f) => f.endsWith('.wal'))!;
    const { marks, records } = framesOf(readFileSync(join(dir, segment)));
    const dataEnd = records.at(-1)!.start;
    // A mark per page the syncs covered, give or take the first and the last.
    expect(marks.length).toBeGreaterThanOrEqual(Math.floor(dataEnd / 4096) - 1);
    for (const [i, m] of marks.entries()) {
      expect(m.durableEnd).toBeLessThanOrEqual(m.at);
      if (i > 0) expect(m.durableEnd).toBeGreaterThanOrEqual(marks[i - 1]!.durableEnd + 4096);
    }
  });

  it('refuses zeros from a synced frame header to its sector end, cutting nothing; salvage keeps the rest', async () => {
    const dir = tempDir('walnut-marks-');
    const last = await runAndKill(dir, backend);
    const path = join(dir, readdirSync(dir).find((f) => f.endsWith('.wal'))!);
    const bytes = readFileSync(path);
    const { records } = framesOf(bytes);
    // A record frame halfway through the synced ones, with room for a header before its
    // sector ends: zeros from there to the sector end are the shape of a sector a power loss
    // kept from the disk, which only unsynced data can be.
    const hit = records.find(
      (r) => r.start >= bytes.length / 2 && SECTOR - (r.start % SECTOR) >= 24,
    )!;
    const sectorEnd = hit.start + SECTOR - (hit.start % SECTOR);
    bytes.fill(0, hit.start, sectorEnd);
    writeFileSync(path, bytes);
    const lost = records
      .filter((r) => r.start >= hit.start && r.start < sectorEnd)
      .map((r) => r.lsn);

    const io = createStorageIo({ backend: 'sync-fs' });
    const err = await expectWalError(SegmentedWal.open({ dir, io }), 'WAL_CORRUPT');
    expect(err.details).toMatchObject({ segment: path, offset: hit.start });
    expect(statSync(path).size).toBe(bytes.length);

    const wal = await SegmentedWal.open({ dir, io, recovery: 'salvage' });
    const kept = (await collect(wal.replay())).map((r) => r.lsn);
    await wal.close();
    expect(kept).toHaveLength(Number(last) - lost.length);
    expect(kept.at(-1)).toBe(last);
    for (const lsn of lost) expect(kept).not.toContain(lsn);
  });
});
