import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Streams } from '@walnut/streams';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { cli } from '../../test/helpers.js';

afterEach(removeTempDirs);

/** A streams log whose writer is still running: the command must open it beside it. */
async function liveStreams(): Promise<{ dir: string; streams: Streams }> {
  const dir = tempDir();
  const streams = await Streams.open(dir);
  await streams.create('orders', { expiresAt: Date.parse('2100-01-01T00:00:00Z') });
  await streams.append('orders', [Buffer.from('first'), Buffer.from('second')], {
    producer: { producerId: 'p1', epoch: 0, seq: 0 },
  });
  await streams.append('orders', Buffer.from([0xff, 0x00]));
  await streams.create('audit');
  await streams.close('audit');
  return { dir, streams };
}

describe('walnut streams', () => {
  it('lists each stream with its tail, bytes, expiry, closed and producers, beside a live writer', async () => {
    const { dir, streams } = await liveStreams();
    try {
      const r = await cli('streams', dir);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/audit\s+0\s+0\s+never\s+yes\s+0/);
      expect(r.stdout).toMatch(/orders\s+3\s+13\s+2100-01-01T00:00:00.000Z\s+no\s+1/);
      const json = JSON.parse((await cli('streams', dir, '--json')).stdout);
      expect(json.streams.map((s: { name: string }) => s.name)).toEqual(['audit', 'orders']);
      expect(json.streams[1]).toMatchObject({
        name: 'orders',
        tail: 3,
        bytes: 13,
        expiresAt: Date.parse('2100-01-01T00:00:00Z'),
        closed: false,
        producers: 1,
      });
    } finally {
      await streams.shutdown();
    }
  });

  it("dumps one stream's records with their offsets, as text or JSON lines", async () => {
    const { dir, streams } = await liveStreams();
    try {
      const text = await cli('streams', dir, 'orders');
      expect(text.code).toBe(0);
      const lines = text.stdout.trim().split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toMatch(/^offset 0 {2}5 B {2}.*first/);
      expect(lines[1]).toMatch(/^offset 1 {2}6 B {2}.*second/);
      const json = (
        await cli('streams', dir, 'orders', '--json', '--from', '1', '--limit', '1')
      ).stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      expect(json).toEqual([{ offset: 1, size: 6, payload: 'c2Vjb25k', text: 'second' }]);
    } finally {
      await streams.shutdown();
    }
  });

  it('refuses a stream that does not exist with WAL_STREAM_NOT_FOUND, saying how to list them', async () => {
    const { dir, streams } = await liveStreams();
    try {
      const r = await cli('streams', dir, 'nope');
      expect(r.code).toBe(3);
      expect(r.stderr).toContain('WAL_STREAM_NOT_FOUND');
      expect(r.stderr).toContain(`walnut streams ${dir}\` lists the streams`);
    } finally {
      await streams.shutdown();
    }
  });

  it('refuses a log that is not a streams log with WAL_NOT_A_LOG, naming walnut dump', async () => {
    const dir = tempDir();
    const wal = await Wal.open(dir).build();
    await wal.append(Buffer.from('plain'));
    await wal.close();
    const r = await cli('streams', dir);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('WAL_NOT_A_LOG');
    expect(r.stderr).toContain(`walnut dump ${dir}`);
  });
});
