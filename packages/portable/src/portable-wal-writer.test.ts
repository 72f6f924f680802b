import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { decodeFileHeader, FILE_HEADER_SIZE, FrameScanner, isWalError } from '@walnut/codec';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { expectWalError } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import type { PortableWalWriterConfig } from './portable-options.js';
import { PortableWalWriter } from './portable-wal-writer.js';

const FILE = '/portable/log.wal';

function memory(): MemoryStorageIo {
  return new MemoryStorageIo();
}

async function fresh(
  config: Parameters<typeof PortableWalWriter.open>[1] = {},
): Promise<{ io: MemoryStorageIo; writer: PortableWalWriter }> {
  const io = memory();
  await io.mkdir('/portable');
  const writer = await PortableWalWriter.open(FILE, { storageIo: io, ...config });
  return { io, writer };
}

function payloadsOf(bytes: Buffer): string[] {
  const scanner = new FrameScanner(bytes, { start: FILE_HEADER_SIZE });
  return [...scanner.records()].map((r) => `${r.lsn}:${r.payload.toString()}`);
}

describe('PortableWalWriter: file layout', () => {
  it('starts a new file with a portable header', async () => {
    const { io, writer } = await fresh();
    expect(writer.size).toBe(FILE_HEADER_SIZE);
    const header = decodeFileHeader(io.fileBytes(FILE)!.subarray(0, FILE_HEADER_SIZE));
    expect(header.fileKind).toBe('portable');
    expect(header.firstLsn).toBe(1n);
    await writer.close();
  });

  it('frames checksummed records with the codec, LSNs in file order', async () => {
    const { io, writer } = await fresh();
    const first = await writer.appendWithChecksum(Buffer.from('a'));
    await writer.appendWithChecksumBatched(Buffer.from('b'));
    await writer.appendWithChecksumBatched(Buffer.from('c'));
    await writer.flushBatch();
    expect(first).toBe(FILE_HEADER_SIZE);
    expect(payloadsOf(io.fileBytes(FILE)!)).toEqual(['1:a', '2:b', '3:c']);
    expect(writer.size).toBe(io.fileBytes(FILE)!.length);
    await writer.close();
  });

  it('writes raw bytes verbatim in raw mode and returns their offsets', async () => {
    const { io, writer } = await fresh({ content: 'raw' });
    expect(await writer.append(Buffer.from('hello'))).toBe(64);
    expect(await writer.append(Buffer.from('world'))).toBe(69);
    expect(io.fileBytes(FILE)!.subarray(64).toString()).toBe('helloworld');
    await writer.close();
  });

  it("refuses another program's file shorter than a header, and leaves it as it was", async () => {
    for (const text of ['x', 'a short note of forty bytes, not a log..']) {
      const io = memory();
      await io.mkdir('/portable');
      const fd = await io.open(FILE, { create: true });
      await io.write(fd, Buffer.from(text), 0);
      await io.close(fd);
      const error = await expectWalError(
        PortableWalWriter.open(FILE, { storageIo: io }),
        'WAL_CORRUPT',
      );
      expect(error.message).toContain('not the start of a Walnut header');
      expect(io.fileBytes(FILE)!.toString()).toBe(text);
    }
  });

  it('starts over a header a crash cut short', async () => {
    const header = (await fresh()).io.fileBytes(FILE)!.subarray(0, FILE_HEADER_SIZE);
    for (const start of [header.subarray(0, 20), Buffer.alloc(30)]) {
      const io = memory();
      await io.mkdir('/portable');
      const fd = await io.open(FILE, { create: true });
      await io.write(fd, start, 0);
      await io.close(fd);
      const writer = await PortableWalWriter.open(FILE, { storageIo: io });
      expect(await writer.appendWithChecksum(Buffer.from('a'))).toBe(FILE_HEADER_SIZE);
      await writer.close();
      expect(payloadsOf(io.fileBytes(FILE)!)).toEqual(['1:a']);
    }
  });

  it("refuses raw bytes in a 'records' file", async () => {
    const { writer } = await fresh();
    await expectWalError(writer.append(Buffer.from('x')), 'WAL_BAD_STATE');
    await expect(writer.appendBatched(Buffer.from('x'))).rejects.toMatchObject({
      code: 'WAL_BAD_STATE',
    });
    await writer.close();
  });

  it('continues LSNs after a reopen and cuts a torn tail', async () => {
    const { io, writer } = await fresh();
    await writer.appendWithChecksum(Buffer.from('one'));
    await writer.appendWithChecksum(Buffer.from('two'));
    await writer.close();
    // A torn write: half a frame at the end.
    const fd = await io.open(FILE);
    const end = await io.size(fd);
    await io.write(fd, Buffer.from([9, 9, 9, 9, 30, 0, 0, 0, 1, 2]), end);
    await io.close(fd);
    const again = await PortableWalWriter.open(FILE, { storageIo: io });
    expect(again.size).toBe(end);
    expect(again.recovery).toEqual({
      offset: end,
      bytes: 10,
      kind: 'torn',
      reason: expect.stringMatching(/no valid frame/),
      lostLsns: null,
    });
    await again.appendWithChecksum(Buffer.from('three'));
    await again.close();
    expect(payloadsOf(io.fileBytes(FILE)!)).toEqual(['1:one', '2:two', '3:three']);
  });

  it('cuts a hole a power loss left before later unsynced records it kept, as a torn tail', async () => {
    let keptAfterHole = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const { io, writer } = await fresh();
      const appended: string[] = [];
      const append = async (text: string) => {
        await writer.appendWithChecksum(Buffer.from(text.padEnd(300, '.')));
        appended.push(`${appended.length + 1}:${text.padEnd(300, '.')}`);
      };
      for (let i = 0; i < 3; i++) await append(`synced-${i}`);
      await writer.sync();
      for (let i = 0; i < 40; i++) await append(`unsynced-${String(i).padStart(2, '0')}`);
      io.simulatePowerLoss({ reorder: true, seed });
      const image = io.fileBytes(FILE)!;

      const again = await PortableWalWriter.open(FILE, { storageIo: io });
      const kept = payloadsOf(io.fileBytes(FILE)!.subarray(0, again.size));
      expect(kept).toEqual(appended.slice(0, kept.length));
      expect(kept.length).toBeGreaterThanOrEqual(3);
      if (appended.slice(kept.length).some((r) => image.includes(r.slice(r.indexOf(':') + 1)))) {
        keptAfterHole++;
        expect(again.recovery).toMatchObject({
          offset: again.size,
          bytes: image.length - again.size,
          kind: 'lost-writes',
          lostLsns: { from: BigInt(kept.length + 1) },
        });
      }
      await again.appendWithChecksum(Buffer.from('after'));
      await again.close();
      expect(payloadsOf(io.fileBytes(FILE)!).at(-1)).toBe(`${kept.length + 1}:after`);
    }
    expect(keptAfterHole).toBeGreaterThan(0);
  });

  it('says what opening cut: nothing for a new or a clean file', async () => {
    const { io, writer } = await fresh();
    expect(writer.recovery).toBeNull();
    await writer.appendWithChecksum(Buffer.from('one'));
    await writer.close();
    const again = await PortableWalWriter.open(FILE, { storageIo: io });
    expect(again.recovery).toBeNull();
    await again.close();
  });

  it('says what opening cut: zero bytes the file grew into', async () => {
    const { io, writer } = await fresh();
    await writer.appendWithChecksum(Buffer.from('one'));
    await writer.close();
    const fd = await io.open(FILE);
    const end = await io.size(fd);
    await io.write(fd, Buffer.alloc(4096), end);
    await io.close(fd);
    const again = await PortableWalWriter.open(FILE, { storageIo: io });
    expect(again.recovery).toMatchObject({
      offset: end,
      bytes: 4096,
      kind: 'zeros',
      lostLsns: null,
    });
    expect(again.nextLsn).toBe(2n);
    await again.close();
  });

  it('says what opening cut: a zeroed frame header and every record after it, with their LSNs', async () => {
    // 300 records, all synced; then record 150's header and the rest of its sector read
    // back as zeros. The hole rule of FORMAT.md cannot tell this from writes a power loss
    // lost, so the records are cut — and the writer says which, so that the loss is never
    // silent.
    const { io, writer } = await fresh();
    const offsets: number[] = [];
    for (let i = 1; i <= 300; i++)
      offsets.push(await writer.appendWithChecksum(Buffer.alloc(100, i)));
    await writer.sync();
    await writer.close();
    const size = io.fileBytes(FILE)!.length;
    const fd = await io.open(FILE);
    await io.write(fd, Buffer.alloc(512 - (offsets[149]! % 512)), offsets[149]!);
    await io.close(fd);

    const again = await PortableWalWriter.open(FILE, { storageIo: io });
    expect(again.nextLsn).toBe(150n);
    expect(again.recovery).toEqual({
      offset: offsets[149],
      bytes: size - offsets[149]!,
      kind: 'lost-writes',
      reason: expect.stringMatching(/zeros where writes never arrived/),
      lostLsns: { from: 150n, to: 300n },
    });
    await again.close();
  });

  it('refuses mid-file damage with WAL_CORRUPT', async () => {
    const { io, writer } = await fresh();
    await writer.appendWithChecksum(Buffer.from('one'));
    await writer.appendWithChecksum(Buffer.from('two'));
    await writer.close();
    const fd = await io.open(FILE);
    await io.write(fd, Buffer.from([0xff]), FILE_HEADER_SIZE + 2);
    await io.close(fd);
    await expect(PortableWalWriter.open(FILE, { storageIo: io })).rejects.toMatchObject({
      code: 'WAL_CORRUPT',
    });
  });

  it('works over the real file system', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'walnut-portable-'));
    try {
      const path = join(dir, 'p.wal');
      const writer = await PortableWalWriter.open(path, { storageIo: 'sync-fs' });
      for (let i = 0; i < 10; i++) await writer.appendWithChecksumBatched(Buffer.from(`r${i}`));
      await writer.flushBatch();
      await writer.close();
      expect(payloadsOf(readFileSync(path))).toHaveLength(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens a file named by a file: URL, as node:fs does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'walnut-portable-'));
    try {
      const path = join(dir, 'by url.wal');
      const writer = await PortableWalWriter.open(pathToFileURL(path), { storageIo: 'sync-fs' });
      await writer.appendWithChecksumBatched(Buffer.from('r0'));
      await writer.flushBatch();
      await writer.close();
      expect(payloadsOf(readFileSync(path))).toEqual(['1:r0']);
      await expectWalError(
        PortableWalWriter.open(new URL('https://example.com/p.wal')),
        'WAL_BAD_ARGUMENT',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PortableWalWriter.open: options', () => {
  it("storageIo 'memory' takes any path: its own empty backend gets the file's directory", async () => {
    const log = await PortableWalWriter.open('/var/lib/app/events.wal', { storageIo: 'memory' });
    expect(await log.appendWithChecksum(Buffer.from('one'))).toBe(FILE_HEADER_SIZE);
    await log.close();
  });

  it('await using closes the writer when the scope ends, writing what it holds', async () => {
    const io = memory();
    await io.mkdir('/portable');
    {
      await using writer = await PortableWalWriter.open(FILE, { storageIo: io });
      await writer.appendWithChecksumBatched(Buffer.from('kept'));
    }
    const again = await PortableWalWriter.open(FILE, { storageIo: io });
    expect(again.nextLsn).toBe(2n);
    await again.close();
  });

  it('refuses an option it does not know, naming the one likely meant, before touching the file', async () => {
    const io = memory();
    await io.mkdir('/portable');
    const typo = { storageIo: io, maxBatchByte: 10 } as PortableWalWriterConfig;
    const refused = await expectWalError(PortableWalWriter.open(FILE, typo), 'WAL_BAD_ARGUMENT');
    expect(refused.message).toMatch(
      /"maxBatchByte" is not an option of PortableWalWriter.open\(\)/,
    );
    expect(refused.message).toMatch(/did you mean maxBatchBytes\?/);
    expect(io.fileBytes(FILE)).toBeNull();
  });

  it('refuses options that are not an object', async () => {
    await expectWalError(
      PortableWalWriter.open(FILE, null as unknown as PortableWalWriterConfig),
      'WAL_BAD_ARGUMENT',
    );
  });
});

describe('PortableWalWriter: batching', () => {
  it('reports pending bytes and operations until the batch is flushed', async () => {
    const { writer } = await fresh({ content: 'raw' });
    expect(await writer.appendBatched(Buffer.alloc(10))).toBe(10);
    expect(await writer.appendBatched(Buffer.alloc(5))).toBe(15);
    expect(writer.pendingBatchBytes).toBe(15);
    expect(writer.pendingBatchOps).toBe(2);
    expect(writer.hasPendingBatch).toBe(true);
    expect(writer.size).toBe(64);
    await writer.flushBatch();
    expect(writer.hasPendingBatch).toBe(false);
    expect(writer.pendingBatchOps).toBe(0);
    expect(writer.size).toBe(79);
    await writer.close();
  });

  it('copies batched data, so the caller may reuse its buffer', async () => {
    const { io, writer } = await fresh({ content: 'raw' });
    const scratch = Buffer.from('aaaa');
    await writer.appendBatched(scratch);
    scratch.fill('b');
    await writer.appendBatched(scratch);
    await writer.flushBatch();
    expect(io.fileBytes(FILE)!.subarray(64).toString()).toBe('aaaabbbb');
    await writer.close();
  });

  it('executes a batch with one write submission and exactly one fdatasync', async () => {
    const { faulty } = await faultyMemory();
    const writer = await PortableWalWriter.open(FILE, { storageIo: faulty, content: 'raw' });
    const before = { ...faulty.counts };
    for (let i = 0; i < 100; i++) await writer.appendBatched(Buffer.alloc(100, i));
    await writer.flushBatch();
    const writes = faulty.counts.write + faulty.counts.writev - before.write - before.writev;
    expect(writes).toBe(1);
    expect(faulty.counts.fdatasync - before.fdatasync).toBe(1);
    const stats = writer.stats();
    expect(stats).toMatchObject({
      submitted: 2,
      completed: 2,
      bytes: 10_000,
      batches: 1,
      syncs: 1,
    });
    expect(stats.failures).toBe(0);
    await writer.close();
  });

  it('writes the batch by itself once it reaches maxBatchBytes', async () => {
    const { writer } = await fresh({ content: 'raw', maxBatchBytes: 1000 });
    for (let i = 0; i < 9; i++) await writer.appendBatched(Buffer.alloc(100));
    expect(writer.stats().batches).toBe(0);
    expect(await writer.appendBatched(Buffer.alloc(100))).toBe(0);
    expect(writer.stats()).toMatchObject({ batches: 1, syncs: 1, bytes: 1000 });
    expect(writer.size).toBe(1064);
    expect(writer.maxBatchBytes).toBe(1000);
    await writer.close();
  });

  it('sync() is exactly one fdatasync', async () => {
    const { faulty } = await faultyMemory();
    const writer = await PortableWalWriter.open(FILE, { storageIo: faulty });
    await writer.appendWithChecksum(Buffer.from('x'));
    await writer.appendWithChecksum(Buffer.from('y'));
    const before = faulty.counts.fdatasync;
    await writer.sync();
    expect(faulty.counts.fdatasync - before).toBe(1);
    expect(writer.stats().syncs).toBe(1);
    await writer.close();
  });

  it('handles a short write inside a batch without losing bytes', async () => {
    const { mem, faulty } = await faultyMemory();
    const writer = await PortableWalWriter.open(FILE, { storageIo: faulty });
    for (let i = 0; i < 5; i++) await writer.appendWithChecksumBatched(Buffer.from(`rec-${i}`));
    faulty.inject({ kind: 'short-write', nth: 1, bytes: 7 });
    await writer.flushBatch();
    await writer.close();
    const reopened = await PortableWalWriter.open(FILE, { storageIo: mem });
    expect(reopened.nextLsn).toBe(6n);
    await reopened.close();
  });
});

describe('PortableWalWriter: failures are loud and lose nothing', () => {
  it('a failed write fails the flush, cuts the file back and keeps the batch', async () => {
    const { mem, faulty } = await faultyMemory();
    const writer = await PortableWalWriter.open(FILE, { storageIo: faulty });
    await writer.appendWithChecksum(Buffer.from('kept'));
    for (let i = 0; i < 3; i++) await writer.appendWithChecksumBatched(Buffer.from(`b${i}`));
    faulty.inject({ kind: 'enospc', afterBytes: 10 });
    const error = await writer.flushBatch().catch((e: unknown) => e);
    expect(isWalError(error, 'WAL_NO_SPACE')).toBe(true);
    expect((error as { details: { pendingOps: number } }).details.pendingOps).toBe(3);
    expect(writer.pendingBatchOps).toBe(3);
    expect(writer.stats().failures).toBeGreaterThan(0);
    expect(payloadsOf(mem.fileBytes(FILE)!)).toEqual(['1:kept']);
    faulty.clearFaults();
    await writer.flushBatch();
    expect(payloadsOf(mem.fileBytes(FILE)!)).toEqual(['1:kept', '2:b0', '3:b1', '4:b2']);
    await writer.close();
  });

  it('a failed fdatasync poisons the writer', async () => {
    const { faulty } = await faultyMemory();
    const writer = await PortableWalWriter.open(FILE, { storageIo: faulty });
    await writer.appendWithChecksumBatched(Buffer.from('x'));
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    await expectWalError(writer.flushBatch(), 'WAL_IO');
    await expect(writer.appendWithChecksum(Buffer.from('y'))).rejects.toMatchObject({
      code: 'WAL_POISONED',
    });
    await expectWalError(writer.sync(), 'WAL_POISONED');
    expect(writer.stats().failures).toBe(1);
    await writer.close();
  });

  it('a failed direct write rejects that append and the next one works', async () => {
    const { mem, faulty } = await faultyMemory();
    const writer = await PortableWalWriter.open(FILE, { storageIo: faulty });
    faulty.inject({ kind: 'eio', op: 'write', nth: 1 });
    await expect(writer.appendWithChecksum(Buffer.from('lost'))).rejects.toMatchObject({
      code: 'WAL_IO',
    });
    expect(await writer.appendWithChecksum(Buffer.from('next'))).toBe(64);
    await writer.close();
    expect(payloadsOf(mem.fileBytes(FILE)!)).toEqual(['1:next']);
  });

  it('refuses work after close, and close is idempotent', async () => {
    const { writer } = await fresh();
    await writer.close();
    await writer.close();
    await expect(writer.appendWithChecksum(Buffer.from('x'))).rejects.toMatchObject({
      code: 'WAL_CLOSED',
    });
  });
});

async function faultyMemory(): Promise<{ mem: MemoryStorageIo; faulty: FaultyStorageIo }> {
  const mem = memory();
  const faulty = new FaultyStorageIo(mem);
  await faulty.mkdir('/portable');
  return { mem, faulty };
}

describe("PortableWalWriter: reopening a 'raw' file", () => {
  it('goes on numbering checksummed records when the file holds nothing else', async () => {
    const { io, writer } = await fresh({ content: 'raw' });
    await writer.appendWithChecksum(Buffer.from('a'));
    await writer.appendWithChecksum(Buffer.from('b'));
    await writer.close();
    const again = await PortableWalWriter.open(FILE, { storageIo: io, content: 'raw' });
    expect(again.nextLsn).toBe(3n);
    await again.appendWithChecksum(Buffer.from('c'));
    await again.close();
    expect(payloadsOf(io.fileBytes(FILE)!)).toEqual(['1:a', '2:b', '3:c']);
  });

  it('refuses checksummed records after raw bytes, whose LSN it cannot know, and still takes raw bytes', async () => {
    const { io, writer } = await fresh({ content: 'raw' });
    await writer.appendWithChecksum(Buffer.from('a'));
    await writer.append(Buffer.from('opaque bytes'));
    await writer.close();
    const again = await PortableWalWriter.open(FILE, { storageIo: io, content: 'raw' });
    expect(again.nextLsn).toBeNull();
    const refused = await again.appendWithChecksum(Buffer.from('b')).catch((e: unknown) => e);
    expect(isWalError(refused, 'WAL_BAD_STATE')).toBe(true);
    await expect(again.appendWithChecksumBatched(Buffer.from('b'))).rejects.toMatchObject({
      code: 'WAL_BAD_STATE',
    });
    const before = io.fileBytes(FILE)!.length;
    expect(await again.append(Buffer.from('more'))).toBe(before);
    await again.close();
  });
});
