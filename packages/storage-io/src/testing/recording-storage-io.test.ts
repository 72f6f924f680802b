import { join } from 'node:path';
import { WalError, WalErrorCode } from '@walnut/codec';
import { afterEach, describe, expect, it } from 'vitest';
import { MemoryStorageIo } from '../backends/memory.js';
import { SyncFsStorageIo } from '../backends/sync-fs.js';
import { Errno } from '../contract/errors.js';
import { OverlappingWritesError, RecordingStorageIo } from './recording-storage-io.js';
import { removeTempDirs, tempDir } from './temp-dirs.js';

const bytes = (n: number, fill = 1) => Buffer.alloc(n, fill);

async function withFile(io: RecordingStorageIo, path = '/f'): Promise<number> {
  return io.open(path, { create: true });
}

describe('RecordingStorageIo: overlapping writes in flight', () => {
  it('refuses a write overlapping one still in flight on the same file, loudly', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    io.submitWrite(fd, bytes(100), 0);
    expect(() => io.submitWrite(fd, bytes(10), 95)).toThrow(OverlappingWritesError);
    expect(io.violations).toHaveLength(1);
    expect(io.violations[0]!.message).toContain('/f');
    expect(io.violations[0]!.message).toContain('[95, 105)');
    expect(io.violations[0]!.message).toContain('[0, 100)');
    // The refused write never reached the backend.
    await io.waitCompletions(1);
    expect(io.ops.filter((op) => op.kind === 'write')).toHaveLength(1);
  });

  it('counts a writev against a write, and a write inside another', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    io.submitWritev(fd, [bytes(50), bytes(50)], 1000);
    expect(() => io.submitWrite(fd, bytes(1), 1099)).toThrow(OverlappingWritesError);
    expect(() => io.submitWritev(fd, [bytes(1)], 1040)).toThrow(OverlappingWritesError);
    expect(io.violations).toHaveLength(2);
  });

  it('allows disjoint writes in flight together, touching ones included', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    io.submitWrite(fd, bytes(100), 0);
    io.submitWrite(fd, bytes(100), 100);
    io.submitWrite(fd, bytes(100), 300);
    expect(io.peakWritesInFlight).toBe(3);
    const completions = await io.waitCompletions(3);
    expect(completions.map((c) => c.result)).toEqual([100, 100, 100]);
    expect(io.violations).toEqual([]);
  });

  it('allows the same bytes in two files', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const a = await withFile(io, '/a');
    const b = await withFile(io, '/b');
    io.submitWrite(a, bytes(100), 0);
    io.submitWrite(b, bytes(100), 0);
    await io.waitCompletions(2);
    expect(io.violations).toEqual([]);
  });

  it('allows an overlapping write once the first one completed', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    await io.write(fd, bytes(100, 1), 0);
    await io.write(fd, bytes(100, 2), 50);
    const token = io.submitWrite(fd, bytes(10, 3), 60);
    await io.completion(token);
    io.submitWrite(fd, bytes(10, 4), 60);
    await io.waitCompletions(1);
    expect(io.violations).toEqual([]);
  });

  it('allows an overlapping write linked behind the first (the chain orders them)', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    io.submitWrite(fd, bytes(100, 1), 0);
    io.submitDatasync(fd, { linkToPrevious: true });
    io.submitWrite(fd, bytes(100, 2), 0, { linkToPrevious: true });
    // Not linked: a new chain, unordered against the first.
    expect(() => io.submitWrite(fd, bytes(1), 0)).toThrow(OverlappingWritesError);
    await io.waitCompletions(3);
  });

  it('keeps a write in flight while its completion is held: the caller cannot know it finished', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    const hold = io.hold();
    io.submitWrite(fd, bytes(100), 0);
    io.flush();
    await new Promise<void>((r) => setImmediate(r));
    await new Promise<void>((r) => setImmediate(r));
    expect(hold.held).toBe(1);
    expect(() => io.submitWrite(fd, bytes(100), 0)).toThrow(OverlappingWritesError);
    hold.release();
    expect((await io.waitCompletions(1)).map((c) => c.result)).toEqual([100]);
    io.submitWrite(fd, bytes(100), 0);
    await io.waitCompletions(1);
    expect(io.violations).toHaveLength(1);
  });

  it('can be told not to check', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo(), { assertNoOverlappingWrites: false });
    const fd = await withFile(io);
    io.submitWrite(fd, bytes(100), 0);
    io.submitWrite(fd, bytes(100), 0);
    await io.waitCompletions(2);
    expect(io.violations).toEqual([]);
  });
});

describe('RecordingStorageIo: what it records', () => {
  it('lists each flush as the backend received it, links included', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    io.submitWrite(fd, bytes(10), 0);
    io.submitDatasync(fd, { linkToPrevious: true });
    io.flush();
    io.submitRead(fd, Buffer.alloc(10), 0);
    await io.waitCompletions(3);
    expect(io.flushes.map((f) => f.map((op) => `${op.kind}${op.link ? '+link' : ''}`))).toEqual([
      ['open'],
      ['write', 'fdatasync+link'],
      ['read'],
    ]);
    const read = io.ops.find((op) => op.kind === 'read')!;
    expect(read).toMatchObject({ path: '/f', fd, offset: 0, length: 10, done: true, result: 10 });
  });

  it('records file and name calls with their outcome', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    await io.mkdir('/d');
    const fd = await io.open('/d/a', { create: true });
    await io.rename('/d/a', '/d/b');
    await expect(io.rename('/d/missing', '/d/c')).rejects.toBeInstanceOf(WalError);
    await io.close(fd);
    expect(io.ops.map((op) => [op.kind, op.nth, op.path, op.to, op.error === undefined])).toEqual([
      ['mkdir', 1, '/d', undefined, true],
      ['open', 1, '/d/a', undefined, true],
      ['rename', 1, '/d/a', '/d/b', true],
      ['rename', 2, '/d/missing', '/d/c', false],
      ['close', 1, '/d/a', undefined, true],
    ]);
    expect(io.ops[1]!.fd).toBe(fd);
  });
});

describe('RecordingStorageIo: holding and refusing', () => {
  it('holds only the completions a hold matches, until it is released', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    const hold = io.hold((op) => op.kind === 'write' && op.nth === 2);
    const tokens = [0, 1, 2].map((i) => io.submitWrite(fd, bytes(10), i * 10));
    const done: number[] = [];
    for (const token of tokens) void io.completion(token).then(() => done.push(token));
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    expect(done).toEqual([tokens[0], tokens[2]]);
    expect(hold.held).toBe(1);
    // The held write ran: its bytes are in the file.
    const back = Buffer.alloc(10);
    expect(await io.inner.read(fd, back, 10)).toBe(10);
    hold.release();
    await new Promise<void>((r) => setImmediate(r));
    expect(done).toEqual([tokens[0], tokens[2], tokens[1]]);
  });

  it('holds the outcome of a name call', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    await io.mkdir('/d');
    const hold = io.hold((op) => op.kind === 'syncDirectory');
    let synced = false;
    const sync = io.syncDirectory('/d').then(() => {
      synced = true;
    });
    for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
    expect(synced).toBe(false);
    expect(hold.held).toBe(1);
    hold.release();
    await sync;
    expect(synced).toBe(true);
  });

  it('refuses the next matching submission by throwing, and only that one', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    const fd = await withFile(io);
    io.refuse(
      (op) => op.kind === 'fdatasync',
      () => new WalError(WalErrorCode.CLOSED, 'closed under the log'),
    );
    expect(() => io.submitDatasync(fd)).toThrow('closed under the log');
    await io.datasync(fd);
    expect(io.ops.filter((op) => op.kind === 'fdatasync')).toHaveLength(1);
  });

  it('refuses matching file calls every time when asked', async () => {
    const io = new RecordingStorageIo(new MemoryStorageIo());
    io.refuse(
      (op) => op.kind === 'open' && op.options?.direct === true,
      () => new WalError(WalErrorCode.IO, 'open: EINVAL', { details: { errno: Errno.EINVAL } }),
      { once: false },
    );
    for (let i = 0; i < 2; i++) {
      await expect(io.open('/x', { create: true, direct: true })).rejects.toThrow('EINVAL');
    }
    await io.open('/x', { create: true });
  });
});

describe('RecordingStorageIo over real files', () => {
  afterEach(removeTempDirs);

  it('wraps sync-fs and checks its writes the same way', async () => {
    const dir = tempDir('walnut-recording-');
    const io = new RecordingStorageIo(new SyncFsStorageIo());
    expect(io.filesOnDisk).toBe(true);
    const fd = await io.open(join(dir, 'f'), { create: true });
    io.submitWrite(fd, bytes(4096), 0);
    expect(() => io.submitWrite(fd, bytes(512), 4095)).toThrow(OverlappingWritesError);
    io.submitWrite(fd, bytes(4096), 4096);
    await io.waitCompletions(2);
    expect(await io.size(fd)).toBe(8192);
    await io.close(fd);
    await io.closeIo();
    expect(io.describe().backend).toBe('recording(sync-fs)');
  });
});
