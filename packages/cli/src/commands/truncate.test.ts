import { SegmentedWal } from '@walnut/segmented';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cli, encryptedWalLog, simpleLog } from '../../test/helpers.js';

afterEach(removeTempDirs);

async function lsnsOf(dir: string): Promise<bigint[]> {
  const wal = await SegmentedWal.open({ dir, readOnly: true });
  const out: bigint[] = [];
  for await (const r of wal.replay()) out.push(r.lsn);
  await wal.close();
  return out;
}

/** A log of `count` records over segments of 4 KiB. */
async function segmentedLog(dir: string, count: number): Promise<void> {
  const wal = await SegmentedWal.open({ dir, segmentTargetSize: 4096 });
  for (let i = 1; i <= count; i++) wal.append({ payload: Buffer.alloc(500, i) });
  await wal.sync();
  await wal.close();
}

describe('walnut truncate', () => {
  it('--after N cuts every record after N, and the next append gets N + 1', async () => {
    const dir = tempDir();
    await simpleLog(dir, 10);
    const r = await cli('truncate', dir, '--after', '4');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('after LSN 4: 6 record(s) removed');
    expect(r.stdout).toContain('the next append gets LSN 5');
    expect(await lsnsOf(dir)).toEqual([1n, 2n, 3n, 4n]);
  });

  it('--after 0 removes every record; --after the last LSN changes nothing', async () => {
    const dir = tempDir();
    await simpleLog(dir, 3);
    expect((await cli('truncate', dir, '--after', '3')).stdout).toContain('Nothing to cut');
    const r = await cli('truncate', dir, '--after', '0', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      afterLsn: '0',
      recordsRemoved: '3',
      nextLsn: '1',
    });
    expect(await lsnsOf(dir)).toEqual([]);
  });

  it('--before N deletes the sealed segments below N and says where the log starts', async () => {
    const dir = tempDir();
    await segmentedLog(dir, 40);
    const r = await cli('truncate', dir, '--before', '30', '--json');
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.segmentsDeleted).toBeGreaterThan(0);
    expect((await lsnsOf(dir))[0]).toBe(BigInt(result.floorLsn));
  });

  it('refuses a cut above the log or without exactly one of --after and --before', async () => {
    const dir = tempDir();
    await simpleLog(dir, 3);
    const above = await cli('truncate', dir, '--after', '9');
    expect(above.code).toBe(3);
    expect(above.stderr).toContain('the log ends at LSN 3');
    expect((await cli('truncate', dir)).code).toBe(2);
    expect((await cli('truncate', dir, '--after', '1', '--before', '2')).code).toBe(2);
    expect((await cli('truncate', dir, '--after', 'x')).code).toBe(2);
    expect(await lsnsOf(dir)).toEqual([1n, 2n, 3n]);
  });

  it('is refused while another writer holds the log, and on a directory that is not a log', async () => {
    const dir = tempDir();
    await simpleLog(dir, 3);
    const writer = await SegmentedWal.open({ dir });
    const r = await cli('truncate', dir, '--after', '1');
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('WAL_LOCKED');
    await writer.close();
    expect((await cli('truncate', tempDir(), '--after', '1')).code).toBe(2);
  });

  it('refuses a log the Wal encrypted with WAL_KEY_MISSING, saying how to cut it from code', async () => {
    const dir = tempDir();
    await encryptedWalLog(dir, 3);
    for (const flag of ['--before', '--after']) {
      const r = await cli('truncate', dir, flag, '2');
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('`walnut truncate` cannot open it to change it');
      expect(r.stderr).toContain('.truncateBefore(lsn)` (or truncateAfter)');
    }
  });
});
