import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { CrashFs, crashFsSkip } from './crashfs/crash-fs.js';

const skip = crashFsSkip();
const root = tempDir('walnut-fs-direct-');
afterAll(removeTempDirs);

const RECORDS = 40;

/**
 * Opens the log with direct I/O, appends RECORDS records one at a time (each acknowledged
 * before the next), prints how the log writes, and stays until it is killed.
 */
const APPEND = `
import { Wal } from '@walnut/wal';
const [dir, backend] = process.argv.slice(-2);
const wal = await Wal.open(dir).storageIo(backend).directIo(true).build();
for (let i = 0; i < ${RECORDS}; i++) await wal.append(Buffer.alloc(100, i));
process.stdout.write(JSON.stringify(wal.stats().storage.directIo) + '\\n');
setInterval(() => undefined, 1000);
`;

/** Prints the first byte of every record of the log. In a process of its own, because a
 * replay's mappings outlive close() until they are collected, and they hold the mount. */
const REPLAY = `
import { Wal } from '@walnut/wal';
const [dir, backend] = process.argv.slice(-2);
const wal = await Wal.open(dir).storageIo(backend).build();
const firstBytes = [];
await wal.replay(1n, (record) => { firstBytes.push(record.payload[0]); });
await wal.close();
process.stdout.write(JSON.stringify(firstBytes) + '\\n');
`;

/** Runs `script` in a child, returns the JSON of its first line of output, and kills it. */
async function inChild(script: string, dir: string, backend: string): Promise<unknown> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, backend], {
    cwd: import.meta.dirname,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    const [line] = (await once(child.stdout!, 'data')) as [Buffer];
    return JSON.parse(line.toString());
  } finally {
    child.kill('SIGKILL');
    if (child.exitCode === null && child.signalCode === null) await once(child, 'exit');
  }
}

// FUSE's kernel side does not pass on the RWF_DSYNC of an O_DIRECT write submitted through
// io_uring: no fsync request reaches the file system, so the write is not durable there
// (decision 0324). A log asked for direct I/O on FUSE writes through the page cache.
describe.skipIf(skip)(
  `direct I/O on a FUSE file system${skip ? ` (skipped: ${skip})` : ''}`,
  () => {
    for (const backend of ['io_uring', 'sync-fs'] as const) {
      it(`is not used, and every acknowledged append survives a power cut (${backend})`, async () => {
        const backing = join(root, `${backend}-backing`);
        const mountpoint = join(root, `${backend}-mount`);
        mkdirSync(backing);
        mkdirSync(mountpoint);
        const dir = join(mountpoint, 'log');
        let fs = await CrashFs.mount({ backing, mountpoint });
        let directIo: unknown;
        try {
          directIo = await inChild(APPEND, dir, backend);
          await fs.crash();
        } finally {
          await fs.unmount();
        }
        fs = await CrashFs.mount({ backing, mountpoint });
        let firstBytes: unknown;
        try {
          firstBytes = await inChild(REPLAY, dir, backend);
        } finally {
          await fs.unmount();
        }
        expect(firstBytes).toEqual(Array.from({ length: RECORDS }, (_, i) => i));
        expect(directIo).toMatchObject({
          state: 'unavailable',
          reason: expect.stringMatching(/FUSE/),
        });
      }, 60_000);
    }
  },
);
