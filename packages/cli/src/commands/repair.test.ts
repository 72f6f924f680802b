import {
  cp,
  mkdir,
  open,
  readdir,
  readFile,
  rm,
  stat,
  truncate,
  writeFile,
} from 'node:fs/promises';
import { join } from 'node:path';
import { encodeFloor, recordFrameSize } from '@walnut/codec';
import { SegmentedWal } from '@walnut/segmented';
import { createStorageIo, SyncFsStorageIo } from '@walnut/storage-io';
import {
  expectWalError,
  RecordingStorageIo,
  removeTempDirs,
  tempDir,
} from '@walnut/storage-io/testing';
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

describe('walnut repair', () => {
  it('says there is nothing to do on a clean log and changes nothing', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 3);
    const r = await cli('repair', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nothing to repair');
    expect((await stat(seg.path)).size).toBe(seg.size);
  });

  it('cuts a torn tail after copying the segment aside', async () => {
    const dir = tempDir();
    const backup = join(tempDir(), 'backup');
    const seg = await simpleLog(dir, 5);
    const garbage = Buffer.from([9, 9, 9, 9, 200, 0, 0, 0, 1, 2, 3, 4, 5]);
    await appendBytes(seg.path, garbage);
    const r = await cli('repair', dir, '--backup-dir', backup);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `${seg.name}: cut from ${seg.size + garbage.length} to ${seg.size} bytes`,
    );
    expect(r.stdout).toContain('No readable record was dropped.');
    expect((await stat(seg.path)).size).toBe(seg.size);
    expect((await readFile(join(backup, seg.name))).length).toBe(seg.size + garbage.length);
    expect((await cli('verify', dir)).stdout).toMatch(/^OK: .* 5 records/m);
  });

  it.runIf(process.platform === 'linux')(
    'fails (exit 3) and changes nothing when the backup directory cannot be made',
    async () => {
      const dir = tempDir();
      const seg = await simpleLog(dir, 2);
      await appendBytes(seg.path, Buffer.from([9, 9, 9, 9, 200, 0, 0, 0, 1]));
      // mkdir says ENOENT under /proc although /proc exists: a recursive mkdir never settles.
      const r = await cli('repair', dir, '--backup-dir', '/proc/walnut-backup');
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('regular file system');
      expect((await stat(seg.path)).size).toBe(seg.size + 9);
    },
  );

  it('refuses mid-log corruption without --salvage and changes nothing', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 10);
    await flipByte(seg.path, seg.frameOffsets[4]! + 10);
    const before = await readFile(seg.path);
    const r = await cli('repair', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`CORRUPT: ${seg.name} at offset ${seg.frameOffsets[4]}`);
    expect(r.stdout).toContain('--salvage');
    expect(await readFile(seg.path)).toEqual(before);
    expect(await readdir(join(dir, '..'))).not.toContain(expect.stringContaining('.repair-'));
  });

  it('refuses zeros over a frame header with intact frames after them, as the library does (issue 57)', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 10);
    const at = seg.frameOffsets[4]!;
    const fh = await open(seg.path, 'r+');
    await fh.write(Buffer.alloc(22), 0, 22, at);
    await fh.close();
    const before = await readFile(seg.path);
    const verify = await cli('verify', dir);
    expect(verify.code).toBe(1);
    expect(verify.stdout).toContain(`CORRUPT: ${seg.name} at offset ${at}`);
    const r = await cli('repair', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('--salvage');
    expect(await readFile(seg.path)).toEqual(before);
    await expectWalError(SegmentedWal.open({ dir }), 'WAL_CORRUPT');
    expect(await readFile(seg.path)).toEqual(before);
  });

  it('a backup that cannot be written fails (exit 3) as a WalError, changes nothing and leaves no partial copy', async () => {
    const dir = tempDir();
    const backup = tempDir();
    const seg = await simpleLog(dir, 10);
    await flipByte(seg.path, seg.frameOffsets[4]! + 10);
    await writeFile(join(dir, 'FLOOR'), encodeFloor(1n));
    // The segment copies; FLOOR cannot (a directory holds its name there).
    await mkdir(join(backup, 'FLOOR'));
    const before = await readFile(seg.path);
    const r = await cli('repair', dir, '--salvage', '--backup-dir', backup);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/walnut: WAL_\w+: backing up .* before repairing failed/);
    expect(r.stderr).toContain('nothing was changed');
    expect(await readFile(seg.path)).toEqual(before);
    expect(await readdir(backup)).toEqual(['FLOOR']);
  });

  it('with --salvage keeps every intact record and says which LSNs are lost', async () => {
    const dir = tempDir();
    const backup = join(tempDir(), 'backup');
    const seg = await simpleLog(dir, 10);
    await flipByte(seg.path, seg.frameOffsets[4]! + 10);
    const r = await cli('repair', dir, '--salvage', '--backup-dir', backup, '--json');
    const result = JSON.parse(r.stdout);
    expect(r.code).toBe(0);
    expect(result.repaired).toBe(true);
    expect(result.clean).toBe(true);
    expect(result.backupDir).toBe(backup);
    expect(await readdir(backup)).toContain(seg.name);
    // LSN 5 was unreadable before, so no readable record is gone; 6..10 moved to a file of their own.
    expect(result.droppedRecords).toBe('0');
    expect(result.recoveryReport.gaps).toEqual([{ from: '5', to: '5' }]);
    const after = JSON.parse((await cli('verify', dir, '--json')).stdout);
    expect(after).toMatchObject({ ok: true, records: 9, gaps: [{ from: '5', to: '5' }] });
  });

  it('with --salvage says which file it added for the records after the damage', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 10);
    await flipByte(seg.path, seg.frameOffsets[4]! + 10);
    const r = await cli('repair', dir, '--salvage', '--backup-dir', join(tempDir(), 'b'));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(
      `00000000000000000006.wal: added: the intact records after damage in ${seg.name}`,
    );
    expect(r.stdout).toContain('LSNs 5..5 are lost; recorded in GAPS');
    expect((await cli('verify', dir)).stdout).toContain(
      'note: LSNs 5..5 are lost (damaged or missing)',
    );
  });

  it('with --salvage says "renamed" for a segment it moves aside', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a', 'b'] },
      { firstLsn: 3n, payloads: ['c'] },
      { firstLsn: 4n, payloads: ['d'] },
    ]);
    const middle = '00000000000000000003.wal';
    await flipByte(join(dir, middle), 20);
    const r = await cli('repair', dir, '--salvage', '--backup-dir', join(tempDir(), 'b'));
    expect(r.stdout).toContain(`${middle}: renamed to ${middle}.dropped`);
    expect(await readdir(dir)).toContain(`${middle}.dropped`);
    expect(r.code).toBe(0);
  });

  it('says which sealed segment ends early and which LSNs are gone, rather than that a file is missing', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a', 'b'] },
      { firstLsn: 3n, payloads: ['c', 'd'] },
      { firstLsn: 5n, payloads: ['e'] },
    ]);
    const middle = join(dir, '00000000000000000003.wal');
    const size = (await stat(middle)).size;
    await truncate(middle, size - recordFrameSize({ payload: Buffer.from('d') }));
    const r = await cli('repair', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('A segment is missing');
    expect(r.stdout).toContain(
      'LSNs 4..4 are gone: 00000000000000000003.wal ends at LSN 3, and 00000000000000000005.wal starts at LSN 5',
    );
    expect(r.stdout).toContain('restore 00000000000000000003.wal (and any file missing after it)');
  });

  /** Repair refuses a log with LSNs missing between segments, then `--salvage` repairs it: its output. */
  async function refusedThenSalvaged(dir: string, refusal: string): Promise<string> {
    const r = await cli('repair', dir);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(refusal);
    const backup = join(tempDir(), 'b');
    const salvaged = await cli('repair', dir, '--salvage', '--backup-dir', backup);
    expect(salvaged.code).toBe(0);
    expect((await cli('verify', dir)).code).toBe(0);
    return salvaged.stdout;
  }

  it('will not paper over a missing segment without --salvage', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a'] },
      { firstLsn: 3n, payloads: ['c'] },
    ]);
    const salvaged = await refusedThenSalvaged(dir, 'LSNs 2..2 are gone');
    expect(salvaged).toContain('LSNs 2..2 are lost; recorded in GAPS');
  });

  it('retires the LSNs of a missing newest segment with --salvage, so none is used again', async () => {
    const dir = tempDir();
    await writeLog(dir, [{ firstLsn: 1n, payloads: ['a', 'b'] }]);
    await writeHead(dir, 3n);
    const salvaged = await refusedThenSalvaged(dir, 'The newest segment is missing');
    expect(salvaged).toMatch(/LSNs 3\.\.\d+ are lost; recorded in GAPS/);
    const wal = await SegmentedWal.open({ dir });
    expect(wal.append({ payload: Buffer.from('c') })).toBeGreaterThan(1n << 36n);
    await wal.close();
  });

  it('refuses with WAL_LOCKED (exit 3) while a writer holds the log, changing nothing', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 3);
    const writer = await SegmentedWal.open({ dir, io: createStorageIo({ backend: 'sync-fs' }) });
    try {
      const sizeWhileOpen = (await stat(seg.path)).size;
      await flipByte(seg.path, seg.frameOffsets[1]! + 9);
      const r = await cli('repair', dir, '--salvage');
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('WAL_LOCKED');
      expect(r.stderr).toContain(`pid ${process.pid}`);
      expect((await stat(seg.path)).size).toBe(sizeWhileOpen);
    } finally {
      await writer.close();
    }
  });

  it('refuses a damaged log the Wal encrypted with WAL_KEY_MISSING (exit 3), changing nothing', async () => {
    const dir = tempDir();
    const backup = join(tempDir(), 'backup');
    const segment = await encryptedWalLog(dir, 10);
    await flipByte(segment, 64 + 30);
    const before = await readFile(segment);
    for (const salvage of [['--salvage'], []]) {
      const r = await cli('repair', dir, ...salvage, '--backup-dir', backup);
      expect(r.code).toBe(3);
      expect(r.stderr).toContain(
        `WAL_KEY_MISSING: ${dir} is encrypted (00000000000000000001.wal: aes-256-gcm, key id 1) and the CLI takes no keys, so \`walnut repair\` cannot open it to change it; salvage it from code with its KeyRing`,
      );
      // Without --salvage too: advising it would lead to the same refusal.
      expect(r.stdout).not.toContain('--salvage');
    }
    expect((await readFile(segment)).equals(before)).toBe(true);
    await expect(stat(backup)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('finds nothing to repair on a clean log the Wal encrypted', async () => {
    const dir = tempDir();
    await encryptedWalLog(dir, 3);
    const r = await cli('repair', dir);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Nothing to repair');
  });
});

describe('a log a truncateAfter was cut short in', () => {
  /** A copy of a log taken while its writer's truncateAfter(10) had recorded the cut but not done it. */
  async function interruptedCut(): Promise<string> {
    const live = tempDir();
    const io = new RecordingStorageIo(new SyncFsStorageIo());
    const wal = await SegmentedWal.open({ dir: live, io, segmentTargetSize: 4096 });
    for (let i = 1n; i <= 200n; i++) wal.append({ payload: Buffer.alloc(100, Number(i % 256n)) });
    await wal.sync();
    // Held at the cut's first segment deletion: its CUT record is durable, the cut not done.
    const hold = io.hold((op) => op.kind === 'unlink' && op.path?.endsWith('.wal') === true);
    const cutting = wal.truncateAfter(10n);
    for (let i = 0; i < 200 && hold.held === 0; i++) await new Promise((r) => setImmediate(r));
    expect(hold.held).toBeGreaterThan(0);
    const copy = tempDir();
    await cp(live, copy, { recursive: true });
    await rm(join(copy, 'LOCK.pid'), { force: true }); // as a crashed writer leaves it
    hold.release();
    await cutting;
    await wal.close();
    return copy;
  }

  it('is refused by the reading commands, which name repair, and repair finishes the cut', async () => {
    const dir = await interruptedCut();
    for (const command of ['verify', 'inspect', 'dump', 'tail']) {
      const r = await cli(command, dir);
      expect(r.code, command).toBe(3);
      expect(r.stderr, command).toContain('WAL_BAD_STATE');
      expect(r.stderr, command).toContain(`walnut repair ${dir}`);
    }
    const repaired = await cli('repair', dir);
    expect(repaired.code).toBe(0);
    expect(repaired.stdout).toContain('Finished an interrupted truncateAfter(10)');
    expect((await cli('verify', dir)).stdout).toMatch(/^OK: .* 10 records/m);
  });
});
