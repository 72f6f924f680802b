import { setImmediate as nextTurn } from 'node:timers/promises';
import { MemoryStorageIo } from '@walnut/storage-io';
import { beforeEach, describe, expect, it } from 'vitest';
import { keyOf } from '../../test/entries.js';
import { PerCoreWalReader } from '../read/reader.js';
import { CoreWalWriter } from './core-wal-writer.js';

const DIR = '/wal';
const PATH = `${DIR}/wal-0.log`;
const VALUE = Buffer.alloc(100, 7);

let io: MemoryStorageIo;

beforeEach(async () => {
  io = new MemoryStorageIo();
  await io.mkdir(DIR);
});

describe('CoreWalWriter.reclaimBefore', () => {
  it('lets appends and syncs go on while it runs, and keeps every one of them through a power loss', async () => {
    // Small buffers: appends during the reclaim fill several, which must not reach the old file.
    const writer = await CoreWalWriter.create(0, PATH, { io, bufferSize: 4096 });
    for (let i = 0; i < 100; i++) writer.appendPut(Buffer.from(`old-${i}`), VALUE);
    await writer.sync();
    const floor = writer.resumePoint;

    let reclaimed = false;
    const reclaiming = writer.reclaimBefore(floor.position).finally(() => {
      reclaimed = true;
    });
    const syncs: Promise<void>[] = [];
    let appendedDuring = 0;
    while (!reclaimed) {
      for (let i = 0; i < 50; i++) writer.appendPut(Buffer.from(`new-${appendedDuring++}`), VALUE);
      syncs.push(writer.sync());
      await nextTurn();
    }
    expect(await reclaiming).toBe(floor.position - 64);
    await Promise.all(syncs);
    expect(appendedDuring).toBeGreaterThan(50);
    expect(writer.syncedPosition).toBe(writer.position);

    io.simulatePowerLoss();
    const reader = await PerCoreWalReader.open(PATH, { io, coreId: 0 });
    const { entries, stop } = await reader.read({ from: floor });
    await reader.close();
    expect(stop.kind).toBe('eof');
    expect(entries.map(keyOf)).toEqual(
      Array.from({ length: appendedDuring }, (_, i) => `new-${i}`),
    );
  });
});
