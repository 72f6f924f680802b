import { copyFile, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SegmentedWal } from '@walnut/segmented';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import {
  appendBytes,
  cli,
  encryptedWalLog,
  flipByte,
  simpleLog,
  writeHead,
  writeLog,
} from '../../test/helpers.js';

afterEach(removeTempDirs);

describe('walnut verify', () => {
  it('passes a clean log and says how much it checked', async () => {
    const dir = tempDir();
    await simpleLog(dir, 50);
    const r = await cli('verify', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^OK: 1 segment\(s\), 50 records \(LSN 1 \.\. 50\)/m);
  });

  it('exits 1 on a damaged frame in the middle and names the segment and offset', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 20);
    const offset = seg.frameOffsets[7]!;
    await flipByte(seg.path, offset + 12);
    const r = await cli('verify', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`CORRUPT: ${seg.name} at offset ${offset}`);
    expect(r.stdout).toMatch(/LSNs 8\.\.8 lost/);
  });

  it('treats a torn tail in the last segment as a note, not corruption', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 5);
    await appendBytes(seg.path, Buffer.from([0x11, 0x22, 0x33, 0x44, 0x30, 0, 0, 0, 1, 2, 3]));
    const r = await cli('verify', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`note: ${seg.name} at offset ${seg.size}: torn tail`);
  });

  it('takes a hole of lost writes in the newest segment for the torn tail the next open cuts', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).options({ durability: 'none' }).build();
    for (let i = 0; i < 400; i++) wal.append(Buffer.alloc(100, i));
    await wal.close();
    // What a crash with writes in flight can leave: one aligned sector of them never
    // arrived (zeros), and the frames of later writes did.
    const [name] = (await readdir(dir)).filter((f) => f.endsWith('.wal'));
    const path = join(dir, name!);
    const bytes = await readFile(path);
    bytes.fill(0, 8192, 8192 + 512);
    await writeFile(path, bytes);

    const verify = await cli('verify', dir);
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/torn tail: .*a zero-filled hole \(writes lost by a crash\)/);
    const tail = await cli('tail', dir, '-n', '1');
    expect(tail.code).toBe(0);
    // The records both show are those the next open keeps.
    const reopened = await Wal.open(dir).build();
    expect(reopened.lastLsn).toBeLessThan(400n);
    expect(tail.stdout).toMatch(new RegExp(`^LSN ${reopened.lastLsn} `));
    expect(verify.stdout).toContain(`records (LSN 1 .. ${reopened.lastLsn})`);
    await reopened.close();
  });

  it('reports a missing middle segment', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a', 'b'] },
      { firstLsn: 5n, payloads: ['e'] },
    ]);
    const r = await cli('verify', dir, '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    expect(report.findings[0]).toMatchObject({
      kind: 'missing-segment',
      segment: '00000000000000000005.wal',
    });
    expect(report.findings[0].message).toContain('LSNs 3..4 are missing');
  });

  it('reports a missing newest segment, which only HEAD remembers', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a', 'b'] },
      { firstLsn: 3n, payloads: ['c'] },
    ]);
    await writeHead(dir, 4n);
    const r = await cli('verify', dir, '--json');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.findings).toMatchObject([
      { kind: 'missing-segment', segment: '00000000000000000004.wal' },
    ]);
    expect(report.findings[0].message).toContain('any record after LSN 3');
    await writeHead(dir, 3n);
    expect((await cli('verify', dir)).code).toBe(0);
  });

  it('reports a damaged segment header, once', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 3);
    await flipByte(seg.path, 10);
    const r = await cli('verify', dir);
    expect(r.code).toBe(1);
    expect(r.stdout.split(`CORRUPT: ${seg.name} at offset 0`)).toHaveLength(2);
  });

  it('exits 2 (usage) and says what to pass for a directory that is not a log', async () => {
    const dir = tempDir();
    const r = await cli('verify', dir);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is not a Walnut log');
    expect(r.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/);
  });

  it('checks a log the Wal encrypted without the key: OK, frames counted, records not', async () => {
    const dir = tempDir();
    await encryptedWalLog(dir, 10);
    const r = await cli('verify', dir);
    expect(r.stderr).not.toContain('WAL_');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^OK: 1 segment\(s\), 10 encrypted frames \(CRC checked; their records and LSNs cannot be read without the key, which the CLI does not take\)/m,
    );
    const json = JSON.parse((await cli('verify', dir, '--json')).stdout);
    expect(json).toMatchObject({ ok: true, records: null, encryptedFrames: 10, findings: [] });
  });

  it('counts the plain records and the encrypted frames of a log encrypted after it was plain', async () => {
    const dir = tempDir();
    const plain = await Wal.open(dir).build();
    await plain.append(Buffer.from('one'));
    await plain.append(Buffer.from('two'));
    await plain.close();
    await encryptedWalLog(dir, 3);
    const r = await cli('verify', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^OK: 2 segment\(s\), 2 records \(LSN 1 \.\. 2\) and 3 encrypted frames/m,
    );
    const inspect = await cli('inspect', dir);
    expect(inspect.stdout).toMatch(/records\s+2 \(LSN 1 \.\. 2\), and 3 encrypted frames/);
    expect(inspect.stdout).toMatch(/encryption\s+none, aes-256-gcm, key 1/);
  });

  it('finds a damaged encrypted frame by its CRC and exits 1', async () => {
    const dir = tempDir();
    const segment = await encryptedWalLog(dir, 10);
    await flipByte(segment, 64 + 30);
    const r = await cli('verify', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('CORRUPT: 00000000000000000001.wal at offset 64');
    expect(r.stdout).toMatch(/9 encrypted frames/);
    // Not `walnut repair --salvage`, which needs the key the CLI does not take.
    expect(r.stdout).not.toContain('walnut repair');
    expect(r.stdout).toContain(`.encryption(ring).recovery('salvage').build()`);
  });
});

describe('walnut verify on a segment of another log', () => {
  it('reports the segment copied in from another log as corruption, as the library refuses it', async () => {
    const logs = [tempDir(), tempDir()];
    for (const dir of logs) {
      const wal = await SegmentedWal.open({ dir, segmentTargetSize: 4096 });
      for (let i = 1n; i <= 120n; i++) wal.append({ payload: Buffer.alloc(100, 7) });
      await wal.sync();
      await wal.close();
    }
    const [mine, theirs] = logs as [string, string];
    const name = (await readdir(mine)).filter((f) => f.endsWith('.wal'))[1]!;
    await copyFile(join(theirs, name), join(mine, name));
    const r = await cli('verify', mine);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`${name}`);
    expect(r.stdout).toContain('belongs to another log');
  });

  it("names the stray, not this log, when the segment copied in is newer than this log's newest", async () => {
    const logs = [tempDir(), tempDir()];
    for (const [n, dir] of [40n, 400n].map((n, i) => [n, logs[i]!] as const)) {
      const wal = await SegmentedWal.open({ dir, segmentTargetSize: 4096 });
      for (let i = 1n; i <= n; i++) wal.append({ payload: Buffer.alloc(100, 7) });
      await wal.sync();
      await wal.close();
    }
    const [mine, theirs] = logs as [string, string];
    const newest = (await readdir(mine))
      .filter((f) => f.endsWith('.wal'))
      .sort()
      .at(-1)!;
    const stray = (await readdir(theirs)).filter((f) => f.endsWith('.wal') && f > newest)[0]!;
    await copyFile(join(theirs, stray), join(mine, stray));
    const r = await cli('verify', mine);
    expect(r.code).toBe(1);
    const foreign = r.stdout.split('\n').filter((line) => line.includes('belongs to another log'));
    expect(foreign).toHaveLength(1);
    expect(foreign[0]).toContain(stray);
  });
});
