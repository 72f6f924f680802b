import type { CoreEntry } from '@walnut/codec';
import { MemoryStorageIo } from '@walnut/storage-io';
import { describe, expect, it } from 'vitest';
import { PerCoreWalManager } from '../manager/manager.js';

const config = (io: MemoryStorageIo) => ({ baseDir: '/p', numCores: 1, io, bufferSize: 4096 });
const keys = (entries: CoreEntry[]) =>
  entries.map((e) => (e.op === 'put' ? Buffer.from(e.key).toString() : e.op));

describe('a power loss that keeps later unsynced writes without earlier ones', () => {
  it('leaves a torn tail: the synced entries and a prefix of the rest, and appending goes on', async () => {
    let cutAtHole = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const io = new MemoryStorageIo();
      const manager = await PerCoreWalManager.create(config(io));
      const writer = manager.writer(0);
      const appended: string[] = [];
      const put = (key: string) => {
        writer.appendPut(Buffer.from(key), Buffer.alloc(500, 1));
        appended.push(key);
      };
      for (let i = 0; i < 5; i++) put(`synced-${i}`);
      await writer.sync();
      // About 20 KiB through a 4 KiB buffer: five unsynced writes over as many pages.
      for (let i = 0; i < 40; i++) put(`unsynced-${String(i).padStart(2, '0')}`);
      io.simulatePowerLoss({ reorder: true, seed });
      const image = io.fileBytes('/p/wal-0.log')!;

      const reopened = await PerCoreWalManager.open(config(io));
      const { entries } = await reopened.recover();
      const got = keys(entries);
      expect(got).toEqual(appended.slice(0, got.length));
      expect(got.length).toBeGreaterThanOrEqual(5);
      // Entries the power loss kept on disk after one it lost: cut with the torn tail.
      if (appended.slice(got.length).some((key) => image.includes(key))) cutAtHole++;
      reopened.writer(0).appendPut(Buffer.from('after'), Buffer.alloc(10));
      await reopened.writer(0).sync();
      await reopened.close();

      const again = await PerCoreWalManager.open(config(io));
      expect(keys((await again.recover()).entries)).toEqual([...got, 'after']);
      await again.close();
    }
    // The case this is about happened (else the seeds above test nothing new).
    expect(cutAtHole).toBeGreaterThan(0);
  });
});
