import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { storageIoFactory } from './walnut-io.js';

interface Io {
  open(path: string, options: { create: boolean }): Promise<number>;
  submitWrite(fd: number, data: Uint8Array, offset: number, options?: { dsync?: boolean }): number;
  completion(token: number): Promise<{ result: number }>;
  datasync(fd: number): Promise<void>;
  close(fd: number): Promise<void>;
}

describe('the sync count of a Walnut contender', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it.each(['sync-fs', 'io_uring'] as const)(
    'on %s counts fdatasyncs and complete dsync writes, not plain writes',
    async (backend) => {
      dir = mkdtempSync(join(tmpdir(), 'walnut-bench-io-'));
      const counted = (await storageIoFactory(backend))();
      const io = counted.io as unknown as Io;
      const fd = await io.open(join(dir, 'f'), { create: true });
      await io.completion(io.submitWrite(fd, Buffer.alloc(100, 1), 0));
      expect(counted.syncsCompleted()).toBe(0);
      await io.completion(io.submitWrite(fd, Buffer.alloc(100, 2), 100, { dsync: true }));
      expect(counted.syncsCompleted()).toBe(1);
      await io.datasync(fd);
      expect(counted.syncsCompleted()).toBe(2);
      await io.close(fd);
      await counted.io.closeIo();
    },
  );
});
