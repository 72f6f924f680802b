import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { segmentFileName } from '@walnut/codec';
import { payloadFor, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { collect } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

afterEach(removeTempDirs);

/** A log of `count` records in one segment over real files, and that segment's path. */
async function oneSegmentLog(count: number) {
  const dir = tempDir('walnut-cut-open-');
  const wal = await SegmentedWal.open({ dir });
  for (let i = 1n; i <= BigInt(count); i++) wal.append({ payload: payloadFor(i, 400) });
  await wal.sync();
  return { dir, wal, segment: join(dir, segmentFileName(1n)) };
}

/** The log's LSNs from a fresh replay, and the first `length` bytes of its first segment. */
async function cutLogReads(wal: SegmentedWal, fd: number, length: number) {
  const lsns = (await collect(wal.replay())).map((r) => r.lsn);
  const held = Buffer.alloc(length);
  return { lsns, heldBytes: held.subarray(0, readSync(fd, held, 0, length, 0)) };
}

const lsnsUpTo = (n: number) => Array.from({ length: n }, (_, i) => BigInt(i + 1));

// Windows refuses to replace or rename over a file another handle has open, where Linux lets
// the old file live on behind it: a cut must work with readers open on every system.
describe('truncateAfter with the kept segment open elsewhere (real files)', () => {
  it('cuts while a reader of this process holds the segment open, and the bytes the cut keeps read the same through its handle', async () => {
    const { wal, segment } = await oneSegmentLog(20);
    const fd = openSync(segment, 'r');
    try {
      const before = Buffer.alloc(4096);
      readSync(fd, before, 0, before.length, 0);
      const { afterLsn } = await wal.truncateAfter(6n);
      expect(afterLsn).toBe(6n);
      const kept = (await wal.listSegments())[0]!.sizeBytes;
      const { lsns, heldBytes } = await cutLogReads(wal, fd, kept);
      expect(lsns).toEqual(lsnsUpTo(6));
      expect(heldBytes.equals(before.subarray(0, kept))).toBe(true);
      expect(wal.append({ payload: Buffer.from('new 7') })).toBe(7n);
      expect(await wal.sync()).toBe(7n);
    } finally {
      closeSync(fd);
      await wal.close();
    }
  });

  it('cuts while another process holds the segment open, and the log reopens cut', async () => {
    const { dir, wal, segment } = await oneSegmentLog(20);
    // A Node program: under Deno, process.execPath is deno, which does not take Node's flags.
    const node = 'Deno' in globalThis ? 'node' : process.execPath;
    const holder = spawn(
      node,
      [
        '-e',
        "require('fs').openSync(process.argv[1], 'r'); console.log('held'); process.stdin.resume().on('end', () => process.exit(0));",
        segment,
      ],
      { stdio: ['pipe', 'pipe', 'inherit'] },
    );
    const ended = new Promise((resolve) => holder.on('exit', resolve));
    const deadline = setTimeout(() => holder.kill('SIGKILL'), 60_000);
    try {
      await new Promise((resolve, reject) => {
        holder.stdout!.once('data', resolve);
        holder.once('exit', (code) => reject(new Error(`the holder exited (${code})`)));
      });
      expect((await wal.truncateAfter(6n)).afterLsn).toBe(6n);
      wal.append({ payload: Buffer.from('new 7') });
      await wal.sync();
      await wal.close();
      const again = await SegmentedWal.open({ dir });
      const records = await collect(again.replay());
      expect(records.map((r) => r.lsn)).toEqual(lsnsUpTo(7));
      expect(records[6]!.payload.toString()).toBe('new 7');
      await again.close();
    } finally {
      holder.stdin!.end();
      await ended;
      clearTimeout(deadline);
    }
  });
});
