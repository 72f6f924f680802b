import { KeyRing } from '@walnut/codec';
import { type IoFd, MemoryStorageIo, type OpenOptions } from '@walnut/storage-io';
import { expectWalError, payloadFor } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { collect, DIR, flipByte, openMemory } from '../../test/helpers.js';
import { SegmentedWal } from '../index.js';

const k1 = Buffer.alloc(32, 1);
const k2 = Buffer.alloc(32, 2);
const notK1 = Buffer.alloc(32, 0xee);

/** Remembers which files were read from the first frame on (offset 64). */
class FirstFrameReads extends MemoryStorageIo {
  readonly paths = new Map<IoFd, string>();
  readonly reads: string[] = [];

  override async open(path: string, options?: OpenOptions): Promise<IoFd> {
    const fd = await super.open(path, options);
    this.paths.set(fd, path);
    return fd;
  }

  override async read(fd: IoFd, into: Uint8Array, offset: number): Promise<number> {
    if (offset === 64) this.reads.push(this.paths.get(fd)!);
    return super.read(fd, into, offset);
  }
}

/** Appends `count` records in one open of the log, with `ring`; returns the log's segments. */
async function appendWith(io: MemoryStorageIo, ring: KeyRing, count: number) {
  const wal = await openMemory(io, { encryption: ring, segmentTargetSize: 4096 });
  for (let i = 0; i < count; i++) wal.append({ payload: payloadFor(wal.nextLsn, 100) });
  await wal.sync();
  const segments = await wal.listSegments();
  await wal.close();
  return segments;
}

/** Every file of the log and its bytes. */
function snapshot(io: MemoryStorageIo, paths: readonly string[]): Map<string, Buffer | null> {
  return new Map(paths.map((p) => [p, io.fileBytes(p) ?? null]));
}

/** A log of several key-1 segments followed by key-2 segments (a rotation 1 → 2). */
async function rotatedLog(io: MemoryStorageIo) {
  await appendWith(io, new KeyRing([[1, k1]], 1), 120);
  const segments = await appendWith(io, new KeyRing({ 1: k1, 2: k2 }, 2), 60);
  return { segments, newestUnderKey1: segments.filter((s) => s.keyId === 1).at(-1)! };
}

describe('open proves every key id the log uses', () => {
  it.each([false, true])(
    'refuses other bytes under an id only sealed segments use, changing nothing (readOnly %s)',
    async (readOnly) => {
      const io = new MemoryStorageIo();
      const { segments, newestUnderKey1 } = await rotatedLog(io);
      const before = snapshot(io, await io.readdir(DIR));
      const wrong = new KeyRing({ 1: notK1, 2: k2 }, 1);
      const error = await expectWalError(
        SegmentedWal.open({ dir: DIR, io, encryption: wrong, readOnly }),
        'WAL_DECRYPT_FAILED',
      );
      expect(error.details).toEqual({ segment: newestUnderKey1.path, keyId: 1, offset: 64 });
      expect(error.message).toContain(`does not decrypt ${newestUnderKey1.path}`);
      expect(error.message).toContain('a new key needs a new id');
      expect(snapshot(io, await io.readdir(DIR))).toEqual(before);
      const right = await openMemory(io, { encryption: new KeyRing({ 1: k1, 2: k2 }, 1) });
      expect((await collect(right.replay())).length).toBe(Number(segments.at(-1)!.lastLsn));
      await right.close();
    },
  );

  it('refuses other bytes under the id of a newest segment that holds no whole frame', async () => {
    const io = new MemoryStorageIo();
    const ring = new KeyRing([[1, k1]], 1);
    const segments = await appendWith(io, ring, 120);
    const newest = segments.at(-1)!;
    // A power loss tore the newest segment's only frame: recovery cuts it, leaving no frame.
    const fd = await io.open(newest.path);
    await io.truncate(fd, 64 + 20);
    await io.close(fd);
    const last = segments.at(-1)!.firstLsn - 1n;
    const error = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, encryption: new KeyRing([[1, notK1]], 1) }),
      'WAL_DECRYPT_FAILED',
    );
    expect(error.details).toEqual({ segment: segments.at(-2)!.path, keyId: 1, offset: 64 });
    const right = await openMemory(io, { encryption: ring });
    expect((await collect(right.replay())).at(-1)?.lsn).toBe(last);
    await right.close();
  });

  it('reads one frame per key id, of the newest segment under it, whatever the segments', async () => {
    const io = new FirstFrameReads();
    const { segments, newestUnderKey1 } = await rotatedLog(io);
    expect(segments.filter((s) => s.keyId === 1).length).toBeGreaterThan(2);
    io.reads.length = 0;
    const wal = await openMemory(io, { encryption: new KeyRing({ 1: k1, 2: k2 }, 2) });
    // The newest segment's scan proves key 2; key 1 costs one read.
    expect(io.reads.sort()).toEqual([newestUnderKey1.path, segments.at(-1)!.path].sort());
    await wal.close();
  });

  it('reports damage where it reads the first frame of a sealed segment (WAL_CORRUPT)', async () => {
    const io = new MemoryStorageIo();
    const { newestUnderKey1 } = await rotatedLog(io);
    await flipByte(io, newestUnderKey1.path, 64 + 30);
    const error = await expectWalError(
      SegmentedWal.open({ dir: DIR, io, encryption: new KeyRing({ 1: k1, 2: k2 }, 2) }),
      'WAL_CORRUPT',
    );
    expect(error.details).toMatchObject({ segment: newestUnderKey1.path, offset: 64 });
    expect(error.message).toContain("recovery: 'salvage'");
  });
});
