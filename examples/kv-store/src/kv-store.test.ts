import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KvStore } from './kv-store.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'walnut-kv-test-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('KvStore', () => {
  it('makes a change visible once it is durable, and keeps it across a reopen', async () => {
    const dir = await tempDir();
    const store = await KvStore.open(dir);
    const lsn = await store.set('a', '1');
    expect(lsn).toBe(1n);
    expect(store.get('a')).toBe('1');
    await store.set('b', '2');
    await store.delete('a');
    await store.close();

    const again = await KvStore.open(dir);
    expect(again.get('a')).toBeUndefined();
    expect(again.get('b')).toBe('2');
    expect(again.stats()).toMatchObject({ appliedLsn: 3n, replayedOnOpen: 3, snapshotLsn: 0n });
    await again.close();
  });

  it('applies concurrent changes to one key in log order', async () => {
    const dir = await tempDir();
    const store = await KvStore.open(dir);
    await Promise.all(Array.from({ length: 200 }, (_, i) => store.set('k', String(i))));
    expect(store.get('k')).toBe('199');
    await store.close();
    const again = await KvStore.open(dir);
    expect(again.get('k')).toBe('199');
    await again.close();
  });

  it('snapshots, truncates the log below the snapshot, and rebuilds from snapshot + log', async () => {
    const dir = await tempDir();
    const store = await KvStore.open(dir, { snapshotEvery: 1_000_000, segmentSize: 4096 });
    for (let i = 0; i < 400; i++) await store.set(`k${i % 50}`, `v${i}`);
    const { lsn, segmentsDeleted } = await store.snapshot();
    expect(lsn).toBe(400n);
    expect(segmentsDeleted).toBeGreaterThan(0);
    expect(store.stats().floorLsn).toBeGreaterThan(1n);
    await store.set('after', 'snapshot');
    await store.close();

    const again = await KvStore.open(dir);
    expect(again.stats()).toMatchObject({
      snapshotLsn: 400n,
      replayedOnOpen: 1,
      appliedLsn: 401n,
      keys: 51,
    });
    expect(again.get('k49')).toBe('v399');
    expect(again.get('after')).toBe('snapshot');
    await again.close();
  });

  it('snapshots by itself every `snapshotEvery` changes', async () => {
    const dir = await tempDir();
    const store = await KvStore.open(dir, { snapshotEvery: 100, segmentSize: 4096 });
    for (let i = 0; i < 350; i++) await store.set(`k${i}`, 'x');
    await store.close();
    const again = await KvStore.open(dir);
    expect(again.stats().snapshotLsn).toBeGreaterThanOrEqual(300n);
    expect(again.size).toBe(350);
    await again.close();
  });
});
