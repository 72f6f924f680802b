import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { payloadFor, tempDir } from '@walnut/storage-io/testing';
import { Batch } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { Follower } from '../src/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

// The follower runs the built package in a child process: build first (pnpm test does).
const CHILD = fileURLToPath(new URL('./fixtures/follower-child.mjs', import.meta.url));

const { cluster, openPrimary } = useReplication();

describe('a follower process killed while applying', () => {
  it('continues from its own durable position when reopened, and ends equal to the primary', async () => {
    const stream = streamName('follower-kill');
    const primary = await openPrimary(stream);
    const batches: Promise<bigint>[] = [];
    for (let b = 0; b < 100; b++) {
      const batch = new Batch();
      for (let i = 0; i < 100; i++) batch.add(payloadFor(b * 100 + i, 200));
      batches.push(primary.appendBatch(batch));
    }
    await Promise.all(batches);
    expect(primary.lastLsn).toBe(10_000n);

    const dir = tempDir();
    const child = spawn(process.execPath, [CHILD, dir, cluster().servers.join(','), stream], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let applied = 0n;
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`the follower applied only ${applied}: ${stderr}`)),
          60_000,
        );
        child.stdout.on('data', (chunk: Buffer) => {
          for (const line of chunk.toString().trim().split('\n'))
            applied = BigInt(line.split(' ')[1] ?? '0');
          if (applied >= 1_000n) {
            clearTimeout(timer);
            resolve();
          }
        });
        exited.then(() => reject(new Error(`the follower exited: ${stderr}`)));
      });
    } finally {
      child.kill('SIGKILL');
      await exited;
    }

    const reopened = await Follower.open(dir, { servers: cluster().servers, stream });
    // Whatever the killed follower had made durable is still there.
    expect(reopened.appliedLsn).toBeGreaterThanOrEqual(applied);
    await reopened.waitFor(10_000n, 60_000);
    await reopened.close();
    await primary.close();
    const copy = await readLog(dir);
    expect(contiguous(copy)).toBe(10_000);
    expect(copy).toEqual(await readLog(primary.dir));
  });
});
