import { join } from 'node:path';
import { WalError } from '@walnut/codec';
import {
  alignedBuffer,
  alignedBufferUnavailable,
  DIRECT_IO_ALIGNMENT,
} from '../../contract/aligned.js';
import { Errno } from '../../contract/errors.js';
import { readFileHeads } from '../../contract/file-heads.js';
import { readFully } from '../../contract/read-fully.js';
import type { FileHead, IoFd } from '../../contract/types.js';
import {
  type ConformanceSuite,
  check,
  expectBytes,
  KiB,
  openDescriptorCount,
  pattern,
} from './suite.js';
import { expect } from './vitest-lazy.js';

const { EINVAL, EOPNOTSUPP } = Errno;

/** Operations on names and files: directories, renames, truncation, preallocation, file heads, writeback and direct I/O. */
export function fileChecks(suite: ConformanceSuite): void {
  check(
    suite,
    'manages names: mkdir, readdir, stat, rename, unlink, syncDirectory',
    async ({ io, dir }) => {
      const sub = join(dir, 'a', 'b');
      await io.mkdir(sub);
      await io.mkdir(sub);
      const fd = await io.open(join(sub, 'x'), { create: true });
      await io.write(fd, pattern(10, 1), 0);
      await io.close(fd);
      await io.rename(join(sub, 'x'), join(sub, 'y'));
      await io.syncDirectory(sub);
      expect(await io.readdir(sub)).toEqual(['y']);
      expect(await io.stat(join(sub, 'y'))).toEqual({ size: 10 });
      expect(await io.stat(join(sub, 'x'))).toBeNull();
      await expect(
        io.open(join(sub, 'y'), { create: true, exclusive: true }),
      ).rejects.toMatchObject({
        code: 'WAL_IO',
        details: { errno: Errno.EEXIST },
      });
      await io.unlink(join(sub, 'y'));
      expect(await io.readdir(sub)).toEqual([]);
      await expect(io.readdir(join(dir, 'missing'))).rejects.toMatchObject({
        code: 'WAL_IO',
        details: { errno: Errno.ENOENT },
      });
      await expect(io.open(join(dir, 'missing'))).rejects.toMatchObject({ code: 'WAL_IO' });
    },
  );

  check(
    suite,
    'truncates, reports sizes and preallocates or says it cannot',
    async ({ io, openFile }) => {
      const fd = await openFile();
      await io.write(fd, pattern(5000, 1), 0);
      await io.truncate(fd, 1000);
      expect(await io.size(fd)).toBe(1000);
      const allocated = await io.completion(io.submitFallocate(fd, 0, 64 * KiB));
      if (allocated.result === 0) {
        expect(await io.size(fd)).toBe(64 * KiB);
      } else {
        expect(allocated.result).toBe(-EOPNOTSUPP);
      }
    },
  );

  check(
    suite,
    'reads the heads of many files at once: bytes, sizes, each failure in its place',
    async ({ io, dir, openFile }) => {
      const files = { long: pattern(5000, 2), short: pattern(10, 3), empty: Buffer.alloc(0) };
      for (const [file, bytes] of Object.entries(files)) {
        const fd = await openFile(file);
        if (bytes.length > 0) await io.write(fd, bytes, 0);
        await io.close(fd);
      }
      const descriptors = openDescriptorCount(io);
      const heads = await readFileHeads(
        io,
        ['long', 'missing', 'short', 'empty'].map((file) => join(dir, file)),
        64,
      );
      expect(heads).toHaveLength(4);
      const [long, missing, short, empty] = heads as [FileHead, Error, FileHead, FileHead];
      expect(long.size).toBe(5000);
      expectBytes(long.bytes, files.long.subarray(0, 64));
      expect(missing).toMatchObject({ code: 'WAL_IO', details: { errno: Errno.ENOENT } });
      expect(short.size).toBe(10);
      expectBytes(short.bytes, files.short);
      expect(empty).toMatchObject({ size: 0, bytes: Buffer.alloc(0) });
      expect(openDescriptorCount(io)).toBe(descriptors);
    },
  );

  check(
    suite,
    'starts writeback or says it cannot, changing neither the bytes nor what is durable',
    async ({ io, dir, options }) => {
      const path = join(dir, 'data');
      const fd = await io.open(path, { create: true });
      const data = pattern(3 * 4096 + 100, 4);
      await io.write(fd, data, 0);
      const started = await io.completion(io.submitWriteback(fd, 0, data.length));
      expect(started).toMatchObject({ op: 'writeback', requested: data.length });
      expect([0, -EOPNOTSUPP]).toContain(started.result);
      if (options.durableImage) expect(options.durableImage(io, path)?.length ?? 0).toBe(0);
      const back = Buffer.alloc(data.length);
      expect(await readFully(io, fd, back, 0)).toBe(data.length);
      expectBytes(back, data);
      expect((await io.completion(io.submitWriteback(1_000_000, 0, 4096))).result).toBeLessThan(0);
      expect(() => io.submitWriteback(fd, 0, 0)).toThrow(WalError);
    },
  );

  check(
    suite,
    'does direct I/O from aligned buffers and refuses misaligned transfers with EINVAL',
    async ({ io, dir }) => {
      if (alignedBufferUnavailable() !== null) {
        expect(() => alignedBuffer(DIRECT_IO_ALIGNMENT)).toThrow(WalError);
        return;
      }
      const path = join(dir, 'direct');
      let fd: IoFd;
      try {
        fd = await io.open(path, { create: true, direct: true });
      } catch (error) {
        // A file system without O_DIRECT (tmpfs) refuses the open itself.
        expect(error).toMatchObject({ code: 'WAL_IO', details: { errno: EINVAL } });
        return;
      }
      const block = alignedBuffer(2 * DIRECT_IO_ALIGNMENT);
      block.set(pattern(block.length, 9));
      expect(await io.write(fd, block, DIRECT_IO_ALIGNMENT)).toBe(block.length);
      const back = alignedBuffer(block.length);
      expect(await io.read(fd, back, DIRECT_IO_ALIGNMENT)).toBe(back.length);
      expectBytes(back, block);
      const misaligned = [
        io.submitWrite(fd, block, 100),
        io.submitWrite(fd, block.subarray(0, 100), 0),
        io.submitWrite(fd, block.subarray(100, 100 + DIRECT_IO_ALIGNMENT), 0),
        io.submitRead(fd, back, 7),
      ];
      for (const token of misaligned) {
        expect((await io.completion(token)).result).toBe(-EINVAL);
      }
      await io.close(fd);
    },
  );
}
