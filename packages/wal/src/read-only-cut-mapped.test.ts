import { join } from 'node:path';
import { WalErrorCode } from '@walnut/codec';
import { ForwardingStorageIo, SyncFsStorageIo } from '@walnut/storage-io';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Wal } from './wal.js';

const root = tempDir('walnut-wal-cut-mapped-');
afterAll(removeTempDirs);

/** Every record the same size, so a new history lays its frames where the old one had them. */
const payload = (history: 'old' | 'new', lsn: bigint) =>
  Buffer.from(`${history} ${lsn} `.padEnd(200, '.'));

/** Once armed, runs `before` on the first `stat` of `path`, then stats it. */
class StatHook extends ForwardingStorageIo {
  private path = '';
  private before: (() => Promise<void>) | null = null;

  arm(path: string, before: () => Promise<void>): void {
    this.path = path;
    this.before = before;
  }

  override async stat(path: string): Promise<{ size: number } | null> {
    const before = this.before;
    if (path === this.path && before !== null) {
      this.before = null;
      await before();
    }
    return this.inner.stat(path);
  }
}

describe('a read-only tail that maps a sealed segment a writer in another opener cut', () => {
  it('is told WAL_TRUNCATED, never handed the new history after the old', async () => {
    const dir = join(root, 'log');
    const writer = await Wal.open(dir)
      .segmentSize(16 << 10)
      .build();
    // One record per frame, each made durable before the next: the same layout every time.
    const append = async (history: 'old' | 'new') => {
      await writer.append(payload(history, writer.lastLsn + 1n));
    };
    while ((await writer.segments()).length < 2) await append('old');
    for (let i = 0; i < 20; i++) await append('old');
    const seen = writer.lastLsn;
    const second = (await writer.segments())[1]!;

    // The reader, in an opener of its own as in another process, reads what is there while
    // the second segment is the one being written.
    const io = new StatHook(new SyncFsStorageIo());
    const reader = await Wal.open(dir).readOnly().storageIo(io).build();
    const tail = reader.tail(1n)[Symbol.asyncIterator]();
    for (let lsn = 1n; lsn <= seen; lsn++) {
      const { value } = await tail.next();
      expect(value!.payload.equals(payload('old', lsn))).toBe(true);
    }

    // The writer seals the second segment; the reader's next look finds it sealed and maps it.
    while ((await writer.segments()).length < 3) await append('old');
    io.arm(second.path, async () => {
      // Between the reader's refresh, which found the segment sealed, and its mapping of it
      // by path: the writer cuts below what the reader handed out and writes a new history
      // into the segment's place, frame for frame where the old one was.
      await writer.truncateAfter(seen - 5n);
      while ((await writer.segments()).length < 3) await append('new');
    });
    const next = tail.next();
    await expect(next).rejects.toMatchObject({
      code: WalErrorCode.TRUNCATED,
      details: { lsn: seen - 5n },
    });

    await reader.close();
    await writer.close();
    await io.closeIo();
  });
});
