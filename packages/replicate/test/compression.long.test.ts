import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { tempDir } from '@walnut/storage-io/testing';
import { Batch, Wal } from '@walnut/wal';
import { describe, expect, it } from 'vitest';
import { COMPRESSED_MESSAGE_VERSION, decodeMessage } from '../src/cluster/message.js';
import { Follower } from '../src/index.js';
import { contiguous, readLog, streamName, useReplication } from './helpers.js';

const { cluster, opened, openPrimary } = useReplication();

/** Every stored message's bytes, in stream order. */
async function streamMessages(stream: string): Promise<Buffer[]> {
  const nc = await connect({ servers: cluster().servers });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    const out: Buffer[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      out.push(Buffer.from((await jsm.streams.getMessage(stream, { seq }))!.data));
    }
    return out;
  } finally {
    await nc.close();
  }
}

function event(i: number): Buffer {
  return Buffer.from(
    JSON.stringify({
      id: `evt_${i.toString(16).padStart(12, '0')}`,
      ts: new Date(Date.UTC(2026, 10, 27) + i * 37).toISOString(),
      action: ['view', 'click', 'checkout'][i % 3],
      user: { id: `usr_${i % 97}`, plan: i % 5 === 0 ? 'pro' : 'free', country: 'NZ' },
      note: 'order shipped customer asked about refund status'.slice(0, 10 + (i % 30)),
    }),
  );
}

/** Whether each segment of the log in `dir` carries the header's `compressed` flag. */
async function segmentFlags(dir: string): Promise<boolean[]> {
  const wal = await Wal.open(dir).storageIo('sync-fs').build();
  try {
    return (await wal.segments()).map((s) => s.compressed);
  } finally {
    await wal.close();
  }
}

describe('a compressing primary on a 3-node cluster', () => {
  it('ships its records compressed, and followers that compress or not copy them exactly', async () => {
    const stream = streamName('compressed');
    const primary = await openPrimary(stream, { mode: 'sync', wal: { compression: 'zstd' } });
    let plainBytes = 0;
    let n = 0;
    for (let round = 0; round < 10; round++) {
      const batch = new Batch();
      for (let k = 0; k < 50; k++) {
        const payload = event(n++);
        plainBytes += payload.length;
        batch.add(payload);
      }
      await primary.appendBatch(batch);
      // Single appends too: each group commit becomes one message.
      await Promise.all(
        Array.from({ length: 20 }, () => {
          const payload = event(n++);
          plainBytes += payload.length;
          return primary.append(payload);
        }),
      );
    }
    const last = BigInt(n);
    expect(primary.replicatedLsn).toBe(last);
    expect(primary.stats().shipper.bytes).toBeLessThan(plainBytes / 2);

    const messages = await streamMessages(stream);
    const records = messages.filter((m) => decodeMessage(m, stream).count > 0);
    expect(records.every((m) => m[8] === COMPRESSED_MESSAGE_VERSION)).toBe(true);

    const plainDir = tempDir();
    const packedDir = tempDir();
    for (const [dir, wal] of [
      [plainDir, {}],
      [packedDir, { compression: 'zstd' as const }],
    ] as const) {
      const follower = await Follower.open(dir, { servers: cluster().servers, stream, wal });
      opened.push(follower);
      expect(await follower.waitFor(last, 20_000)).toBeGreaterThanOrEqual(last);
      await follower.close();
    }
    await primary.close();

    const original = await readLog(primary.dir);
    expect(contiguous(original)).toBe(n);
    expect(original.map((r) => r.payload)).toEqual(Array.from({ length: n }, (_, i) => event(i)));
    expect(await readLog(plainDir)).toEqual(original);
    expect(await readLog(packedDir)).toEqual(original);
    // Each follower's log compresses by its own option, not by what came over the wire.
    expect(await segmentFlags(plainDir)).not.toContain(true);
    expect(await segmentFlags(packedDir)).not.toContain(false);
  });
});
