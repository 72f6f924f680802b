import { copyFile, readdir, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeRecordFrame, recordFrameSize } from '@walnut/codec';
import { expectWalError, removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import {
  appendBytes,
  captureOutput,
  cli,
  encryptedWalLog,
  simpleLog,
  writeLog,
} from '../../test/helpers.js';
import { tailCommand } from './tail.js';

afterEach(removeTempDirs);

function frame(lsn: bigint, text: string): Buffer {
  const input = { payload: Buffer.from(text) };
  const buf = Buffer.alloc(recordFrameSize(input));
  encodeRecordFrame(buf, 0, lsn, input);
  return buf;
}

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `walnut tail -f -n 1` on `dir`, polling every `pollMs`: its output, its stop, its exit code. */
function follow(dir: string, pollMs = 20) {
  const captured = captureOutput();
  const stop = new AbortController();
  const running = tailCommand(
    dir,
    { follow: true, lines: 1, signal: stop.signal, pollMs },
    captured.output,
  );
  return { captured, stop, running };
}

describe('walnut tail', () => {
  it('reports a sealed segment that ends before its successor starts (exit 1), naming it', async () => {
    const dir = tempDir();
    const segments = await writeLog(dir, [
      { firstLsn: 1n, payloads: ['a1', 'a2'] },
      { firstLsn: 3n, payloads: ['b3', 'b4', 'b5'] },
      { firstLsn: 6n, payloads: ['c6'] },
    ]);
    const sealed = segments[1]!;
    // Cut at a frame boundary: every frame left checks out, and LSN 5 is gone.
    await truncate(sealed.path, sealed.frameOffsets[2]!);
    const r = await cli('tail', dir, '-n', '10');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${sealed.path} is damaged at offset ${sealed.frameOffsets[2]} (its records end at LSN 4 but the next segment starts at 6)`,
    );
  });

  it('prints the last records across segments', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['one', 'two', 'three'] },
      { firstLsn: 4n, payloads: ['four'] },
    ]);
    const r = await cli('tail', dir, '-n', '3');
    expect(r.code).toBe(0);
    expect(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('  ')[0]),
    ).toEqual(['LSN 2', 'LSN 3', 'LSN 4']);
    expect(r.stdout).toContain('"four"');
  });

  it('prints exactly the last N records, whatever share of them the newest segment holds', async () => {
    const dir = tempDir();
    await writeLog(dir, [
      { firstLsn: 1n, payloads: ['1', '2', '3', '4', '5', '6'] },
      { firstLsn: 7n, payloads: ['7', '8', '9'] },
    ]);
    for (const n of [1, 2, 3, 4, 5, 6, 9, 12]) {
      const r = await cli('tail', dir, '-n', String(n));
      expect(r.code).toBe(0);
      const lsns = r.stdout
        .trim()
        .split('\n')
        .map((l) => Number(l.split('  ')[0]!.slice('LSN '.length)));
      const first = Math.max(1, 10 - n);
      expect(lsns).toEqual(Array.from({ length: 10 - first }, (_, i) => first + i));
    }
  });

  it("shows no record of another log's segment copied in, and says so (exit 1)", async () => {
    const [mine, theirs] = [tempDir(), tempDir()];
    for (const [dir, text] of [
      [mine, 'mine'],
      [theirs, 'theirs'],
    ] as const) {
      const wal = await Wal.open(dir).segmentSize(4096).build();
      for (let i = 0; i < 60; i++) await wal.append(Buffer.from(`${text} ${'x'.repeat(200)}`));
      await wal.close();
    }
    const names = (await readdir(mine)).filter((f) => f.endsWith('.wal')).sort();
    const swapped = names[names.length - 2]!;
    await copyFile(join(theirs, swapped), join(mine, swapped));
    const r = await cli('tail', mine, '-n', '60');
    expect(r.code).toBe(1);
    expect(r.stdout).not.toContain('theirs');
    expect(r.stdout).toContain('mine');
    expect(r.stderr).toContain(`${join(mine, swapped)} belongs to another log`);
  });

  it('prints JSON lines with the payload in base64 and as text', async () => {
    const dir = tempDir();
    await simpleLog(dir, 2);
    const r = await cli('tail', dir, '--json', '-n', '1');
    expect(JSON.parse(r.stdout)).toMatchObject({
      lsn: '2',
      text: 'record-2',
      payload: Buffer.from('record-2').toString('base64'),
    });
  });

  it('follows new records, including a partly written frame and a new segment', async () => {
    const dir = tempDir();
    const seg = await simpleLog(dir, 2);
    const { captured, stop, running } = follow(dir);
    await until(() => captured.stdout.includes('LSN 2'));
    const third = frame(3n, 'three');
    await appendBytes(seg.path, third.subarray(0, 5));
    await new Promise((r) => setTimeout(r, 100));
    expect(captured.stdout).not.toContain('LSN 3');
    await appendBytes(seg.path, third.subarray(5));
    await until(() => captured.stdout.includes('"three"'));
    await writeLog(dir, [{ firstLsn: 4n, payloads: ['four'] }]);
    await until(() => captured.stdout.includes('"four"'));
    stop.abort();
    expect(await running).toBe(0);
    expect(
      captured.stdout
        .trim()
        .split('\n')
        .map((l) => l.split('  ')[0]),
    ).toEqual(['LSN 2', 'LSN 3', 'LSN 4']);
    expect(join(dir)).toBe(dir);
  });

  it('prints the append time of the records it follows, as of those it found', async () => {
    const dir = tempDir();
    let now = Date.parse('2026-11-26T08:00:00.000Z');
    const wal = await Wal.open(dir)
      .clock(() => now)
      .build();
    await wal.append(Buffer.from('before'));
    const { captured, stop, running } = follow(dir);
    await until(() => captured.stdout.includes('"before"'));
    now += 90_000;
    await wal.append(Buffer.from('during'));
    await until(() => captured.stdout.includes('"during"'));
    stop.abort();
    expect(await running).toBe(0);
    await wal.close();
    const lines = captured.stdout.trim().split('\n');
    expect(lines[0]).toContain('2026-11-26T08:00:00.000Z');
    expect(lines[1]).toContain('2026-11-26T08:01:30.000Z');
  });

  it('refuses a log the Wal encrypted with WAL_KEY_MISSING (exit 3), printing no records', async () => {
    const dir = tempDir();
    await encryptedWalLog(dir, 10);
    const r = await cli('tail', dir, '-n', '2');
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(
      `walnut: WAL_KEY_MISSING: ${dir} is encrypted (00000000000000000001.wal: aes-256-gcm, key id 1) and the CLI takes no keys, so \`walnut tail\` cannot read its records`,
    );
    expect(r.stderr).not.toContain('FrameCipher');
  });

  it('-f stops with WAL_REPLAY_BELOW_FLOOR when the writer deletes records it has not shown', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).segmentSize(4096).build();
    const payload = Buffer.alloc(600, 0x61);
    for (let i = 0; i < 3; i++) await wal.append(payload);
    // Polls rarely, so the writer deletes whole segments between two looks. At 1 s, a
    // loaded machine (the whole suite on 2 cores) once let a look read all 43 records
    // before the truncation, and the tail, having missed nothing, never stopped.
    const { captured, stop, running } = follow(dir, 5000);
    const stopped = expectWalError(running, 'WAL_REPLAY_BELOW_FLOOR');
    await until(() => captured.stdout.includes('LSN 3'));
    await Promise.all(Array.from({ length: 40 }, () => wal.append(payload)));
    await wal.truncateBefore(wal.lastLsn - 2n);
    const error = await stopped;
    expect(error.message).toMatch(/removed LSNs \d+–\d+ .* before this tail read them/);
    stop.abort();
    await wal.close();
    // On a loaded machine a poll may come in while the writer appends: it shows every
    // record up to the first one deleted, and none after.
    const shown = [...captured.stdout.matchAll(/^LSN (\d+)/gm)].map((m) => BigInt(m[1]!));
    const from = error.details.from as bigint;
    expect(shown).toEqual(Array.from({ length: Number(from) - 3 }, (_, i) => 3n + BigInt(i)));
  });

  it('-f stops with WAL_TRUNCATED when the writer cuts records it has shown and writes again', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).build();
    for (const text of ['one', 'two', 'three']) await wal.append(Buffer.from(text));
    const captured = captureOutput();
    const running = tailCommand(dir, { follow: true, lines: 3, pollMs: 20 }, captured.output);
    const stopped = expectWalError(running, 'WAL_TRUNCATED');
    await until(() => captured.stdout.includes('"three"'));
    await wal.truncateAfter(1n);
    await wal.append(Buffer.from('other two'));
    await stopped;
    await wal.close();
    expect(captured.stdout).not.toContain('other two');
  });

  it("-f stops with WAL_CORRUPT at another log's segment copied in while it follows", async () => {
    const [mine, theirs] = [tempDir(), tempDir()];
    const other = await Wal.open(theirs).segmentSize(4096).build();
    for (let i = 0; i < 30; i++) await other.append(Buffer.from(`theirs ${'x'.repeat(200)}`));
    await other.close();
    // Their second segment, copied in once this log's records reach the LSN before its
    // first, reads as this log's next segment, LSNs following on.
    const stray = (await readdir(theirs)).filter((f) => f.endsWith('.wal')).sort()[1]!;
    const wal = await Wal.open(mine).build();
    for (let lsn = 1; lsn < Number.parseInt(stray, 10); lsn++)
      await wal.append(Buffer.from('mine'));
    await wal.close();
    const { captured, stop, running } = follow(mine);
    const stopped = expectWalError(running, 'WAL_CORRUPT');
    await until(() => captured.stdout.includes('"mine"'));
    let settled = false;
    void stopped.finally(() => {
      settled = true;
    });
    await copyFile(join(theirs, stray), join(mine, stray));
    await until(() => settled || captured.stdout.includes('theirs'));
    stop.abort();
    expect(captured.stdout).not.toContain('theirs');
    expect(await stopped).toMatchObject({
      message: expect.stringContaining(`${join(mine, stray)} belongs to another log`),
    });
  });

  it('-f stops with WAL_KEY_MISSING when the writer goes on in a new encrypted segment', async () => {
    const dir = tempDir();
    const plain = await Wal.open(dir).build();
    await plain.append(Buffer.from('plain'));
    await plain.close();
    const captured = captureOutput();
    const running = tailCommand(dir, { follow: true, lines: 1, pollMs: 20 }, captured.output);
    // Handled from the start: the follower may stop while the encrypted log is still
    // being written below, before the assertion is awaited.
    const stopped = expectWalError(running, 'WAL_KEY_MISSING');
    await until(() => captured.stdout.includes('"plain"'));
    await encryptedWalLog(dir, 2);
    expect(await stopped).toMatchObject({
      message: expect.stringContaining('and the CLI takes no keys'),
    });
  });
});
