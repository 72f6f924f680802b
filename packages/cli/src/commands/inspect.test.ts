import { SegmentedWal } from '@walnut/segmented';
import { createStorageIo } from '@walnut/storage-io';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import {
  appendBytes,
  cli,
  encryptedWalLog,
  flipByte,
  simpleLog,
  writeFloor,
  writeHead,
  writeLog,
} from '../../test/helpers.js';

afterEach(removeTempDirs);

describe('walnut inspect', () => {
  it('lists segments with LSN ranges, sizes, encryption, floor and lock', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a', 'b', 'c'] },
      { firstLsn: 4n, payloads: ['d', 'e'] },
    ]);
    const r = await cli('inspect', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/segments\s+2 \(1 sealed, 1 active\)/);
    expect(r.stdout).toMatch(/records\s+5 \(LSN 1 \.\. 5\)/);
    expect(r.stdout).toMatch(/floor\s+1 \(no FLOOR file/);
    expect(r.stdout).toMatch(/newest segment\s+not recorded \(no HEAD file/);
    expect(r.stdout).toMatch(/encryption\s+none/);
    expect(r.stdout).toMatch(/lock\s+free/);
    expect(r.stdout).toMatch(/00000000000000000001\.wal\s+1\s+3\s+3\s+\S+ B\s+sealed\s+none/);
    expect(r.stdout).toMatch(/00000000000000000004\.wal\s+4\s+5\s+2\s+\S+ B\s+active\s+none/);
  });

  it('reads the floor from FLOOR and prints JSON with LSNs as strings', async () => {
    const dir = tempDir();
    await writeLog(dir, [{ firstLsn: 10n, payloads: ['x', 'y'] }]);
    await writeFloor(dir, 11n);
    await writeHead(dir, 10n);
    const r = await cli('inspect', dir, '--json');
    expect(r.code).toBe(0);
    const info = JSON.parse(r.stdout);
    expect(info).toMatchObject({
      floorLsn: '11',
      floorSource: 'FLOOR',
      newestSegmentFirstLsn: '10',
      firstLsn: '10',
      lastLsn: '11',
      records: 2,
    });
    expect(info.segments[0]).toMatchObject({
      name: '00000000000000000010.wal',
      cipher: 'none',
      sealed: false,
    });
    expect(info.lock).toEqual({ kind: 'free' });
  });

  it("shows each segment's append-time range, as text and JSON", async () => {
    const dir = tempDir();
    const t0 = Date.parse('2026-11-24T10:00:00Z');
    let now = t0;
    const wal = await SegmentedWal.open({ dir, clock: () => now, segmentTargetSize: 4096 });
    for (let i = 0; i < 30; i++) {
      wal.append({ payload: Buffer.alloc(200, i) });
      await wal.sync();
      now += 1000;
    }
    await wal.close();
    const json = JSON.parse((await cli('inspect', dir, '--json')).stdout);
    const segments = json.segments as {
      firstLsn: string;
      lastLsn: string;
      firstTime: number;
      lastTime: number;
    }[];
    expect(segments.length).toBeGreaterThan(1);
    for (const s of segments) {
      expect(s.firstTime).toBe(t0 + (Number(s.firstLsn) - 1) * 1000);
      expect(s.lastTime).toBe(t0 + (Number(s.lastLsn) - 1) * 1000);
    }
    const text = (await cli('inspect', dir)).stdout;
    expect(text).toContain('appended');
    expect(text).toContain(
      `2026-11-24T10:00:00.000Z .. ${new Date(segments[0]!.lastTime).toISOString()}`,
    );
  });

  it('names a live lock holder by pid', async () => {
    const dir = tempDir();
    await writeLog(dir, [{ firstLsn: 1n, payloads: ['x'] }]);
    const wal = await SegmentedWal.open({ dir, io: createStorageIo({ backend: 'sync-fs' }) });
    try {
      const r = await cli('inspect', dir, '--json');
      expect(JSON.parse(r.stdout).lock).toMatchObject({ kind: 'held', pid: process.pid });
    } finally {
      await wal.close();
    }
  });

  it('fails with exit 2 (usage) for a directory that does not exist, and for a file', async () => {
    const r = await cli('inspect', '/nonexistent/walnut-log');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('/nonexistent/walnut-log does not exist');
    const file = await cli('inspect', '/etc/hostname');
    expect(file.code).toBe(2);
    expect(file.stderr).toContain('/etc/hostname is a file, not a Walnut log');
  });

  it('shows the cipher and key id of a log the Wal encrypted, without the key', async () => {
    const dir = tempDir();
    await encryptedWalLog(dir, 10);
    const r = await cli('inspect', dir);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/encryption\s+aes-256-gcm, key 1/);
    expect(r.stdout).toMatch(
      /records\s+unknown: 10 encrypted frames, whose records cannot be counted without the key/,
    );
    expect(r.stdout).toMatch(
      /00000000000000000001\.wal\s+1\s+-\s+\? \(10 encrypted frames\)\s+\S+ \S+\s+active\s+aes-256-gcm, key 1/,
    );
    const json = JSON.parse((await cli('inspect', dir, '--json')).stdout);
    expect(json).toMatchObject({ records: null, encryptedFrames: 10, problems: 0 });
    expect(json.segments[0]).toMatchObject({
      cipher: 'aes-256-gcm',
      keyId: 1,
      records: null,
      encryptedFrames: 10,
      firstLsn: '1',
      lastLsn: null,
    });
  });

  it('exits 1 when it finds corruption, as verify does, in text and in JSON', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 20);
    await flipByte(seg.path, seg.frameOffsets[7]! + 12);
    const r = await cli('inspect', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`CORRUPT: 1 problem(s) found; \`walnut verify ${dir}\` lists them.`);
    const json = await cli('inspect', dir, '--json');
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ problems: 1, corrupt: true });
  });

  it('exits 0 on a torn tail at the very end, and says the next open cuts it', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 5);
    await appendBytes(seg.path, Buffer.from([0x11, 0x22, 0x33, 0x44, 0x30, 0, 0, 0, 1, 2, 3]));
    const r = await cli('inspect', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('note: a torn tail at the end, which the next open cuts');
    const json = await cli('inspect', dir, '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ problems: 1, corrupt: false });
  });
});
