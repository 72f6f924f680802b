import { createHash } from 'node:crypto';
import { KeyRing, type WalRecord } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { SegmentedWal, type SegmentedWalConfig } from '../src/index.js';

export const DIR = '/log';

export function payloadFor(lsn: bigint, size = 32): Buffer {
  const buf = Buffer.alloc(size);
  for (let i = 0; i < size; i++) buf[i] = Number((lsn * 31n + BigInt(i)) % 251n);
  return buf;
}

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

/** Expects `promise` to reject with a WalError of `code`; returns it. */
export async function rejectsWith(
  promise: Promise<unknown>,
  code: string,
): Promise<Error & { code: string; details: Record<string, unknown> }> {
  try {
    await promise;
  } catch (err) {
    const e = err as Error & { code: string; details: Record<string, unknown> };
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected ${code}, but it resolved`);
}

export function throwsWith(fn: () => unknown, code: string): Error & { code: string } {
  try {
    fn();
  } catch (err) {
    const e = err as Error & { code: string };
    if (e.code !== code) throw new Error(`expected ${code}, got ${e.code}: ${e.message}`);
    return e;
  }
  throw new Error(`expected ${code}, but it returned`);
}
