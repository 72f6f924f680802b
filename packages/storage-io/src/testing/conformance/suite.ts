import { existsSync, readdirSync } from 'node:fs';
import type { IoCompletion, IoFd, StorageIo } from '../../contract/types.js';
import { expect, it } from './vitest-lazy.js';

export interface ConformanceOptions {
  /** When set, the suite is registered but skipped, with this reason in its title. */
  readonly skip?: string | false;
  /**
   * Reads the durable image of a file (what a power loss would leave), for backends
   * that can show it (memory). Enables the "sync makes writes durable" checks.
   */
  readonly durableImage?: (io: StorageIo, path: string) => Buffer | null;
  /** Per-test timeout in ms (default 30 000). */
  readonly timeoutMs?: number;
}

/** What each group of checks is given: the running test's backend and directory. */
export interface ConformanceSuite {
  /** The backend of the running test (a fresh one per test). */
  readonly io: StorageIo;
  /** A directory of its own for the running test, in the backend. */
  readonly dir: string;
  readonly options: ConformanceOptions;
  /** Per-test timeout in ms. */
  readonly timeout: number;
  /** Opens (creating) `file` in `dir`. */
  openFile(file?: string): Promise<IoFd>;
}

export const KiB = 1024;
export const MiB = 1024 * KiB;

export function pattern(length: number, seed: number): Buffer {
  const buffer = Buffer.allocUnsafe(length);
  for (let i = 0; i < length; i++) buffer[i] = (i * 31 + seed * 7) & 0xff;
  return buffer;
}

/** Byte equality without vitest's element-wise deep compare (slow on large buffers). */
export function expectBytes(actual: Uint8Array | null, expected: Uint8Array): void {
  expect(actual).not.toBeNull();
  const a = Buffer.from(actual!.buffer, actual!.byteOffset, actual!.byteLength);
  if (a.equals(expected)) return;
  let first = 0;
  while (first < Math.min(a.length, expected.length) && a[first] === expected[first]) first++;
  expect.fail(
    `bytes differ: lengths ${a.length} vs ${expected.length}, first difference at offset ${first}`,
  );
}

/** Descriptors this process holds, where the backend's files are the system's (else null). */
export function openDescriptorCount(io: StorageIo): number | null {
  // Under Wine, /proc/self/fd is the Linux process's, Wine's own descriptors and all: it
  // moves under a check, and says nothing of Windows handles.
  return io.filesOnDisk === false || process.platform === 'win32' || !existsSync('/proc/self/fd')
    ? null
    : readdirSync('/proc/self/fd').length;
}

/** Collects completions until `count` arrived (never spins: each wait is a promise). */
export async function collect(io: StorageIo, count: number): Promise<IoCompletion[]> {
  const all: IoCompletion[] = [];
  while (all.length < count) {
    const batch = await io.waitCompletions(1);
    if (batch.length === 0) throw new Error(`expected ${count} completions, got ${all.length}`);
    all.push(...batch);
  }
  return all;
}

/**
 * Registers one check under the suite's timeout; `body` gets the suite when the check runs,
 * so the backend and directory it reads are that test's.
 */
export function check(
  suite: ConformanceSuite,
  title: string,
  body: (running: ConformanceSuite) => Promise<void> | void,
): void {
  it(title, { timeout: suite.timeout }, () => body(suite));
}
