import { createHash } from 'node:crypto';
import { KeyRing, type WalRecord } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { payloadFor } from '@walnut/storage-io/testing';
import { SegmentedWal, type SegmentedWalConfig } from '../src/index.js';

export const DIR = '/log';

export function hashOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 16);
}

export async function collect(iter: AsyncIterable<WalRecord>): Promise<WalRecord[]> {
  const out: WalRecord[] = [];
  for await (const rec of iter) out.push(rec);
  return out;
}

export function testRing(): KeyRing {
  return new KeyRing([[7, Buffer.alloc(32, 7)]], 7);
}

export async function openMemory(
  io: MemoryStorageIo | import('@walnut/storage-io').StorageIo = new MemoryStorageIo(),
  config: Partial<SegmentedWalConfig> = {},
): Promise<SegmentedWal> {
  return SegmentedWal.open({ dir: DIR, io, ...config });
}

/** XORs one byte of a file through the StorageIo (a bit flip on disk). */
export async function flipByte(
  io: import('@walnut/storage-io').StorageIo,
  path: string,
  offset: number,
  mask = 0x40,
): Promise<void> {
  const fd = await io.open(path);
  const b = Buffer.alloc(1);
  await io.read(fd, b, offset);
  b[0] = b[0]! ^ mask;
  await io.write(fd, b, offset);
  await io.fsync(fd);
  await io.close(fd);
}

/** Appends raw bytes at the end of a file (e.g. the remains of a torn write). */
export async function appendRaw(
  io: import('@walnut/storage-io').StorageIo,
  path: string,
  bytes: Uint8Array,
): Promise<number> {
  const fd = await io.open(path, { create: true });
  const size = await io.size(fd);
  await io.write(fd, bytes, size);
  await io.fsync(fd);
  await io.close(fd);
  return size;
}

export async function fileSize(
  io: import('@walnut/storage-io').StorageIo,
  path: string,
): Promise<number> {
  return (await io.stat(path))!.size;
}

/** A closed log of `n` records of 100 bytes in segments of about 4 KiB, and its segments. */
export async function closedLogWith(n: number, io = new MemoryStorageIo()) {
  const wal = await openMemory(io, { segmentTargetSize: 4096 });
  for (let i = 1n; i <= BigInt(n); i++) wal.append({ payload: payloadFor(i, 100) });
  await wal.sync();
  const segments = await wal.listSegments();
  await wal.close();
  return { io, segments };
}
