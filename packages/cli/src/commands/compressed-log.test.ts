import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { zstdImplementation } from '@walnut/codec';
import { compressedLog } from '@walnut/codec/testing';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/helpers.js';

afterEach(removeTempDirs);

/** The golden compressed log (written by a Wal on Node 22), which every runtime reads. */
function goldenDir(): string {
  const dir = tempDir();
  const { name, bytes } = compressedLog();
  writeFileSync(join(dir, name), bytes);
  return dir;
}

describe(`the CLI on a compressed log (decoder ${zstdImplementation().decoder})`, () => {
  it('inspect shows the compression flag and counts every record', async () => {
    const dir = goldenDir();
    const r = await cli('inspect', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/records\s+32 \(LSN 1 \.\. 32\)/);
    expect(r.stdout).toMatch(/compression\s+zstd frames in 1 of 1 segments/);
    const json = JSON.parse((await cli('inspect', dir, '--json')).stdout);
    expect(json.segments[0]).toMatchObject({ compressed: true, records: 32, lastLsn: '32' });
  });

  it('verify finds nothing wrong, dump and tail print the records', async () => {
    const dir = goldenDir();
    expect((await cli('verify', dir)).code).toBe(0);
    const dump = await cli('dump', dir, '--json');
    expect(dump.code).toBe(0);
    const lines = dump.stdout.trim().split('\n');
    expect(lines.length).toBe(32);
    expect(lines[0]).toContain('evt_00000001');
    expect(lines[21]).toContain('a short record, written plain');
    const tail = await cli('tail', dir, '-n', '2');
    expect(tail.code).toBe(0);
    expect(tail.stdout).toContain('LSN 31');
    expect(tail.stdout).toContain('LSN 32');
  });

  it('verify reports a damaged compressed frame as corruption', async () => {
    const dir = goldenDir();
    const { name, bytes } = compressedLog();
    bytes[64 + 40] = bytes[64 + 40]! ^ 0x40;
    writeFileSync(join(dir, name), bytes);
    const r = await cli('verify', dir);
    expect(r.code).toBe(1);
  });
});
