import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { join } from 'node:path';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { Batch } from '../batch.js';
import { Wal } from '../wal.js';

const root = tempDir('walnut-retention-burst-');
afterAll(removeTempDirs);
let dirs = 0;
const SEGMENT = 64 << 10;
const LIMIT = 512 << 10;
const RECORDS = 4000;
const payload = () => Buffer.alloc(1000, 1);

/**
 * Resolves once a retention pass of `dir` deleted something; rejects after `ms` (far beyond
 * what a pass takes, far below the 60 s timer, which would otherwise hide the bug).
 */
function nextDeletion(dir: string, ms = 15_000): { done: Promise<void>; stop(): void } {
  let listen: (message: unknown) => void = () => {};
  let timer: NodeJS.Timeout | undefined;
  const done = new Promise<void>((resolve, reject) => {
    listen = (message) => {
      if ((message as { dir: string }).dir === dir) resolve();
    };
    subscribe('walnut:wal:retention', listen);
    timer = setTimeout(() => reject(new Error(`no retention pass deleted within ${ms} ms`)), ms);
  });
  return {
    done,
    stop: () => {
      clearTimeout(timer);
      unsubscribe('walnut:wal:retention', listen);
    },
  };
}

const diskBytes = async (wal: Wal) =>
  (await wal.segments()).reduce((sum, segment) => sum + segment.sizeBytes, 0);

// Each path appends a burst that seals dozens of segments before any of them is durable.
const bursts: Record<string, (wal: Wal) => Promise<unknown>> = {
  'append (all awaited together)': (wal) =>
    Promise.all(Array.from({ length: RECORDS }, () => wal.append(payload()))),
  'appendQueued, then sync()': (wal) => {
    for (let i = 0; i < RECORDS; i++) wal.appendQueued(payload());
    return wal.sync();
  },
  'appendMany (lists awaited together)': (wal) =>
    Promise.all(
      Array.from({ length: RECORDS / 100 }, () =>
        wal.appendMany(Array.from({ length: 100 }, payload)),
      ),
    ),
  'appendRecord (all awaited together)': (wal) =>
    Promise.all(Array.from({ length: RECORDS }, () => wal.appendRecord({ payload: payload() }))),
  'appendBatch (batches awaited together)': (wal) =>
    Promise.all(
      Array.from({ length: RECORDS / 20 }, () => {
        const batch = new Batch();
        for (let i = 0; i < 20; i++) batch.add(payload());
        return wal.appendBatch(batch);
      }),
    ),
};

describe('retention after a burst of appends', () => {
  for (const [path, burst] of Object.entries(bursts)) {
    it(`brings the log within maxBytes once the burst is durable: ${path}`, async () => {
      const dir = join(root, `log-${dirs++}`);
      const wal = await Wal.open(dir).segmentSize(SEGMENT).retention({ maxBytes: LIMIT }).build();
      const deletion = nextDeletion(dir);
      try {
        await burst(wal);
        // Nothing appends from here: only durability catching up can start the pass.
        await deletion.done;
        expect(await diskBytes(wal)).toBeLessThanOrEqual(LIMIT + SEGMENT);
        expect(wal.stats().retention!.segmentsDeleted).toBeGreaterThan(0);
      } finally {
        deletion.stop();
        await wal.close();
      }
    });
  }
});
