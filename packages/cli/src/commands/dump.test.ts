import { truncate } from 'node:fs/promises';
import { SegmentedWal } from '@walnut/segmented';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, encryptedWalLog, simpleLog, writeFloor, writeLog } from '../../test/helpers.js';

afterEach(removeTempDirs);

describe('walnut dump', () => {
  it('prints every record in LSN order with a text preview', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['alpha', 'beta'] },
      { firstLsn: 3n, payloads: ['gamma'] },
    ]);
    const r = await cli('dump', dir);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'LSN 1  type 0  5 B  "alpha"',
      'LSN 2  type 0  4 B  "beta"',
      'LSN 3  type 0  5 B  "gamma"',
    ]);
  });

  it('starts at the first record appended at or after --since, by a bounded lookup', async () => {
    const dir = tempDir();
    const t0 = Date.parse('2026-11-24T10:00:00Z');
    let now = t0;
    // Two segments of records one second apart: the lookup crosses a segment boundary.
    const wal = await SegmentedWal.open({ dir, clock: () => now, segmentTargetSize: 4096 });
    for (let i = 0; i < 40; i++) {
      wal.append({ payload: Buffer.alloc(200, i) });
      await wal.sync();
      now += 1000;
    }
    expect((await wal.listSegments()).length).toBeGreaterThan(1);
    await wal.close();

    const iso = await cli('dump', dir, '--since', '2026-11-24T10:00:30Z', '--json');
    expect(iso.code).toBe(0);
    const lines = iso.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.lsn)).toEqual([
      '31',
      '32',
      '33',
      '34',
      '35',
      '36',
      '37',
      '38',
      '39',
      '40',
    ]);
    expect(lines[0].time).toBe(t0 + 30_000);
    // Between two records: the later one; as ms; --from later than --since wins.
    const between = await cli(
      'dump',
      dir,
      '--since',
      String(t0 + 30_500),
      '--from',
      '35',
      '--limit',
      '1',
    );
    expect(between.stdout).toMatch(/^LSN 35 /);
    const ms = await cli('dump', dir, '--since', String(t0 + 30_500), '--limit', '1');
    expect(ms.stdout).toMatch(/^LSN 32 /);
    const after = await cli('dump', dir, '--since', '2027-01-01T00:00:00Z');
    expect(after.code).toBe(0);
    expect(after.stderr).toContain(
      'no records from LSN 41 (the first at or after 2027-01-01T00:00:00.000Z)',
    );
    const bad = await cli('dump', dir, '--since', 'yesterday');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since must be a time');
  });

  it('starts at --from and stops after --limit, as JSON lines', async () => {
    const dir = tempDir();
    await simpleLog(dir, 10);
    const r = await cli('dump', dir, '--from', '4', '--limit', '3', '--json');
    expect(r.code).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.lsn)).toEqual(['4', '5', '6']);
    expect(lines[0]).toMatchObject({ type: 0, size: 8, text: 'record-4' });
  });

  it('prints the records before damage in a sealed segment, then WAL_CORRUPT with segment and offset (exit 1)', async () => {
    const dir = tempDir();
    const segments = await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a1', 'a2'] },
      { firstLsn: 3n, payloads: ['b3', 'b4', 'b5'] },
      { firstLsn: 6n, payloads: ['c6'] },
    ]);
    const sealed = segments[1]!;
    // Cut inside its last frame: open reads only the newest segment, so dump finds it.
    await truncate(sealed.path, sealed.size - 3);
    const r = await cli('dump', dir);
    expect(r.code).toBe(1);
    expect(r.stdout.trim().split('\n')).toEqual([
      'LSN 1  type 0  2 B  "a1"',
      'LSN 2  type 0  2 B  "a2"',
      'LSN 3  type 0  2 B  "b3"',
      'LSN 4  type 0  2 B  "b4"',
    ]);
    expect(r.stderr).toContain('WAL_CORRUPT');
    expect(r.stderr).toContain(`${sealed.path} is damaged at offset ${sealed.frameOffsets[2]}`);
  });

  it('shows binary payloads as hex', async () => {
    const dir = tempDir();
    await writeLog(dir, [{ firstLsn: 1n, payloads: ['\u0000\u0001\u0002'] }]);
    const r = await cli('dump', dir);
    expect(r.stdout).toContain('0x000102');
  });

  it('refuses to start below the floor with WAL_REPLAY_BELOW_FLOOR and exit 3', async () => {
    const dir = tempDir();
    await simpleLog(dir, 10);
    await writeFloor(dir, 5n);
    const r = await cli('dump', dir, '--from', '2');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('WAL_REPLAY_BELOW_FLOOR');
    expect(r.stderr).toContain('walnut inspect');
  });

  it('refuses a log the Wal encrypted with WAL_KEY_MISSING (exit 3): the CLI takes no keys', async () => {
    const dir = tempDir();
    await encryptedWalLog(dir, 3);
    const r = await cli('dump', dir);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      `walnut: WAL_KEY_MISSING: ${dir} is encrypted (00000000000000000001.wal: aes-256-gcm, key id 1) and the CLI takes no keys, so \`walnut dump\` cannot read its records`,
    );
    expect(r.stderr).toContain('`walnut inspect` and `walnut verify` check an encrypted log');
  });
});

describe('walnut dump and walnut verify agree about records over the default maxRecordSize', () => {
  it('dumps a 17 MiB record appended under maxRecordSize 32 MiB, in a sealed segment too', async () => {
    const dir = tempDir();
    const wal = await SegmentedWal.open({ dir, maxRecordSize: 32 << 20, segmentTargetSize: 4096 });
    wal.append({ payload: Buffer.from('before') });
    wal.append({ payload: Buffer.alloc(17 << 20, 0x61) });
    wal.append({ payload: Buffer.from('after') });
    await wal.sync();
    await wal.close();
    const dumped = await cli('dump', dir, '--json');
    expect(dumped.code).toBe(0);
    const lines = dumped.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.lsn, l.size])).toEqual([
      ['1', 6],
      ['2', 17 << 20],
      ['3', 5],
    ]);
    expect((await cli('verify', dir)).code).toBe(0);
  });
});
