import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FaultyStorageIo, MemoryStorageIo } from '@walnut/storage-io';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { WAL_CHANNELS } from './internal/channels.js';
import { Wal } from './wal.js';

const root = tempDir('walnut-diagnostics-');
afterAll(removeTempDirs);

/** Messages published on `name` while the test runs. */
const heard = new Map<string, unknown[]>();
const listeners: [string, (message: unknown) => void][] = [];
function listen(name: string): unknown[] {
  const messages: unknown[] = [];
  const listener = (message: unknown) => messages.push(message);
  subscribe(name, listener);
  listeners.push([name, listener]);
  heard.set(name, messages);
  return messages;
}
afterEach(() => {
  for (const [name, listener] of listeners.splice(0)) unsubscribe(name, listener);
});

let count = 0;
async function logWith(records: number, segmentSize = 4096): Promise<string> {
  const dir = join(root, `log-${count++}`);
  const wal = await Wal.open(dir).segmentSize(segmentSize).build();
  for (let i = 0; i < records; i++) await wal.append(Buffer.alloc(100, i));
  await wal.close();
  return dir;
}

const segmentsOf = (dir: string) =>
  readdirSync(dir)
    .filter((name) => name.endsWith('.wal'))
    .sort()
    .map((name) => join(dir, name));

describe('a Wal says what opening it did', () => {
  it('reports a torn tail it cut, on the Wal, in stats() and on walnut:wal:recovery', async () => {
    const dir = await logWith(10);
    appendFileSync(segmentsOf(dir).at(-1)!, Buffer.from([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const opened = listen('walnut:wal:open');
    const recovered = listen('walnut:wal:recovery');
    const wal = await Wal.open(dir).build();
    expect(wal.recovery?.tornTail).toMatchObject({ bytes: 9, cut: true });
    expect(wal.stats().recovery).toMatchObject({ tornTailBytes: 9, salvagedParts: 0 });
    expect(opened).toEqual([expect.objectContaining({ dir, readOnly: false })]);
    expect(recovered).toEqual([{ dir, recovery: wal.recovery }]);
    await wal.close();
  });

  it("reports what recovery('salvage') dropped and where it moved it", async () => {
    const dir = await logWith(120);
    const segments = segmentsOf(dir);
    expect(segments.length).toBeGreaterThan(2);
    // Damage in the middle of the second segment, valid frames after it: mid-log corruption.
    const bytes = Buffer.alloc(16, 0xee);
    writeFileSync(segments[1]!, bytes, { flag: 'r+' });
    const recovered = listen('walnut:wal:recovery');
    const wal = await Wal.open(dir).recovery('salvage').build();
    const salvaged = wal.recovery?.salvaged ?? [];
    expect(salvaged.length).toBeGreaterThan(0);
    expect(salvaged.some((drop) => drop.movedTo?.endsWith('.dropped'))).toBe(true);
    expect(wal.stats().recovery.salvagedParts).toBe(salvaged.length);
    expect(wal.stats().recovery.salvagedBytes).toBeGreaterThan(0);
    // The second segment's records are lost (its header is unreadable); every other record is kept.
    const lost = wal.recovery!.gaps;
    expect(lost).toHaveLength(1);
    expect(wal.stats().recovery.lostLsns).toBe(Number(lost[0]!.to - lost[0]!.from + 1n));
    let kept = 0;
    for await (const record of wal.iterator(1n)) {
      expect(record.lsn >= lost[0]!.from && record.lsn <= lost[0]!.to).toBe(false);
      kept++;
    }
    expect(kept + wal.stats().recovery.lostLsns).toBe(120);
    expect(recovered).toHaveLength(1);
    await wal.close();
  });

  it('names the backend on walnut:wal:open exactly as stats().backend does', async () => {
    const opened = listen(WAL_CHANNELS.open);
    const wal = await Wal.open(join(root, `log-${count++}`)).build();
    expect(opened).toHaveLength(1);
    expect((opened[0] as { backend: unknown }).backend).toEqual(wal.stats().backend);
    await wal.close();
  });

  it('is quiet when there was nothing to say', async () => {
    const dir = await logWith(3);
    const recovered = listen('walnut:wal:recovery');
    const wal = await Wal.open(dir).build();
    expect(wal.recovery).toMatchObject({ tornTail: null, salvaged: [], removedFiles: [] });
    expect(wal.stats().recovery).toEqual({
      tornTailBytes: 0,
      salvagedParts: 0,
      salvagedBytes: 0,
      lostLsns: 0,
      removedFiles: 0,
    });
    expect(recovered).toEqual([]);
    await wal.close();
  });
});

describe('a Wal publishes its failures', () => {
  it('on walnut:wal:poison when a failed fdatasync poisons it', async () => {
    const faulty = new FaultyStorageIo(new MemoryStorageIo());
    const wal = await Wal.open('/log').storageIo(faulty).build();
    const poisoned = listen('walnut:wal:poison');
    faulty.inject({ kind: 'eio', op: 'fdatasync', nth: 1 });
    await expect(wal.append(Buffer.from('x'))).rejects.toBeDefined();
    expect(poisoned).toEqual([
      { dir: '/log', error: expect.objectContaining({ message: expect.stringContaining('EIO') }) },
    ]);
    await wal.close();
  });

  it('on walnut:wal:rollback when a full disk rolls records back', async () => {
    const faulty = new FaultyStorageIo(new MemoryStorageIo());
    const wal = await Wal.open('/log').storageIo(faulty).build();
    expect(await wal.append(Buffer.from('first'))).toBe(1n);
    const rolledBack = listen('walnut:wal:rollback');
    faulty.inject({ kind: 'enospc', afterBytes: 0 });
    await Promise.allSettled([wal.append(Buffer.from('a')), wal.append(Buffer.from('b'))]);
    expect(rolledBack).toEqual([expect.objectContaining({ dir: '/log', fromLsn: 2n, toLsn: 3n })]);
    await wal.close();
  });
});
