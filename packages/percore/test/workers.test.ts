import { MessageChannel, Worker } from 'node:worker_threads';
import type { CoreEntry } from '@walnut/codec';
import { SyncFsStorageIo } from '@walnut/storage-io';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PerCoreWalManager } from '../src/index.js';

// Workers run plain Node against the BUILT packages: `pnpm run build` first. They get no
// execArgv: vitest started inside this package passes its `--conditions @walnut/source`
// to the test process, and a worker inheriting it would load the .ts sources.
const WORKER = new URL('./fixtures/core-worker.mjs', import.meta.url);
const CORES = 2;
const ENTRIES = 3_000;

let dir: string;
beforeEach(() => {
  dir = tempDir('percore-workers-');
});
afterEach(removeTempDirs);

interface Done {
  coreId: number;
  sequence: bigint;
  highestEpochSeen: bigint;
}

describe('worker-owned writers (real worker_threads)', () => {
  it('checkpoints and reclaims through the message protocol while workers append, and recovers every synced entry', async () => {
    const io = new SyncFsStorageIo();
    const manager = await PerCoreWalManager.create({
      baseDir: dir,
      numCores: CORES,
      io,
      requestTimeoutMs: 5_000,
    });
    const workers: Worker[] = [];
    const ports = [];
    const finished: Promise<Done>[] = [];
    for (let coreId = 0; coreId < CORES; coreId++) {
      const { port1, port2 } = new MessageChannel();
      const handoff = await manager.handOff(coreId, port1);
      const worker = new Worker(WORKER, {
        execArgv: [],
        // Until the second checkpoint's epoch (at most 100× ENTRIES): the test needs more
        // than one checkpoint while they append, however slowly the first one comes.
        workerData: {
          handoff,
          port: port2,
          entries: ENTRIES,
          syncEvery: 100,
          untilEpoch: 2n,
          cap: 100 * ENTRIES,
        },
        transferList: [port2],
      });
      workers.push(worker);
      ports.push(port1);
      finished.push(
        new Promise<Done>((resolve, reject) => {
          worker.on('error', reject);
          worker.on('message', (m: { type: string } & Done) => {
            if (m.type === 'app:done') resolve(m);
          });
        }),
      );
    }
    let allDone = false;
    const all = Promise.all(finished).finally(() => {
      allDone = true;
    });
    let checkpoints = 0;
    let freedBytes = 0;
    while (!allDone) {
      await manager.checkpoint(BigInt(++checkpoints));
      // The workers keep appending while their files are rewritten: nothing to await there.
      for (const core of await manager.reclaim()) freedBytes += core.freedBytes;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const done = await all;
    const manifest = manager.manifest;
    const { entries } = await manager.recover();

    expect(checkpoints).toBeGreaterThan(1);
    expect(freedBytes).toBeGreaterThan(0);
    expect(done.some((d) => d.highestEpochSeen > 0n)).toBe(true); // the epoch is visible in workers
    for (const { coreId, sequence } of done) {
      const own = entries.filter((e: CoreEntry) => e.coreId === coreId).map((e) => e.sequence);
      const start = manifest.cores[coreId]!.sequence;
      // Everything after the checkpoint barrier, contiguous, up to the last synced entry.
      expect(own).toEqual(
        Array.from({ length: Number(sequence - start) }, (_, i) => start + BigInt(i + 1)),
      );
    }
    for (let i = 1; i < entries.length; i++)
      expect(entries[i]!.epoch >= entries[i - 1]!.epoch).toBe(true);

    for (const port of ports) port.postMessage({ type: 'app:stop' });
    await Promise.all(workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
    await manager.close();
  });
});
