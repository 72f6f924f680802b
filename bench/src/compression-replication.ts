/**
 * Replication bytes per record with compression off and on (issue #62): a primary on a
 * one-node nats-server (loopback; the bytes do not depend on the replica count) takes the
 * records from 64 producers appending one at a time (the W3 shape), `async`, so the shipper
 * groups them as it does under load; the NATS payload bytes it published (its
 * `stats().shipper.bytes`, every message's body) are divided by the records.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ReplicatedWal } from '@walnut/replicate';
import { NatsCluster } from '@walnut/replicate/testing';

export type ReplicationMode = 'off' | 'zstd';

async function shippedBytesPerRecord(
  cluster: NatsCluster,
  payloads: readonly Buffer[],
  mode: ReplicationMode,
  root: string,
  stream: string,
): Promise<number> {
  const dir = mkdtempSync(join(root, `replicate-${mode}-`));
  const primary = await ReplicatedWal.open(dir, {
    servers: cluster.servers,
    stream,
    replicas: 1,
    mode: 'async',
    uploadSegments: false,
    ...(mode === 'zstd' ? { wal: { compression: 'zstd' as const } } : {}),
  });
  try {
    let next = 0;
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < payloads.length) await primary.append(payloads[next++]!);
      }),
    );
    await primary.waitReplicated(primary.lastLsn, 120_000);
    const { bytes, records } = primary.stats().shipper;
    if (records !== payloads.length) throw new Error(`shipped ${records} of ${payloads.length}`);
    return bytes / records;
  } finally {
    await primary.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Bytes per record each mode published, over `reps` alternating runs (the median). */
export async function replicationBytes(
  payloads: readonly Buffer[],
  reps: number,
  root: string,
): Promise<Record<ReplicationMode, number>> {
  const cluster = await NatsCluster.start({ size: 1 });
  const runs: Record<ReplicationMode, number[]> = { off: [], zstd: [] };
  try {
    for (let r = 0; r < reps; r++) {
      const order: ReplicationMode[] = r % 2 === 0 ? ['off', 'zstd'] : ['zstd', 'off'];
      for (const mode of order)
        runs[mode].push(
          await shippedBytesPerRecord(cluster, payloads, mode, root, `compression-${mode}-${r}`),
        );
    }
  } finally {
    await cluster.stop();
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  return { off: median(runs.off), zstd: median(runs.zstd) };
}
