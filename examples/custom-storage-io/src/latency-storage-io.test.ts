import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStorageIo } from '@walnut/storage-io';
import { Wal } from '@walnut/wal';
import { afterEach, describe, expect, it } from 'vitest';
import { LatencyHistogram } from './histogram.js';
import { LatencyRecordingStorageIo } from './latency-storage-io.js';

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe('LatencyRecordingStorageIo under a Wal', () => {
  it('runs a Wal and records write and fdatasync latencies', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'walnut-latency-io-'));
    dirs.push(dir);
    const io = new LatencyRecordingStorageIo(createStorageIo());
    const wal = await Wal.open(dir).storageIo(io).build();
    await Promise.all(Array.from({ length: 200 }, (_, i) => wal.append(Buffer.from(`event ${i}`))));
    expect(wal.stats().backend.name).toBe(`latency(${io.inner.describe().backend})`);
    await wal.shutdown();
    const seen: string[] = [];
    const reopened = await Wal.open(dir).build();
    await reopened.replay(1n, (r) => {
      seen.push(r.payload.toString());
    });
    await reopened.close();
    await io.closeIo();

    expect(seen).toHaveLength(200);
    const byOp = new Map(io.report().map((r) => [r.op, r]));
    expect(byOp.get('fdatasync')?.count).toBeGreaterThan(0);
    expect((byOp.get('write')?.count ?? 0) + (byOp.get('writev')?.count ?? 0)).toBeGreaterThan(0);
    for (const r of byOp.values()) expect(r.p50Micros).toBeLessThanOrEqual(r.p99Micros);
  });
});

describe('LatencyHistogram', () => {
  it('reports percentiles to within a quarter octave', () => {
    const h = new LatencyHistogram();
    for (let i = 1; i <= 1000; i++) h.record(i);
    expect(h.count).toBe(1000);
    expect(h.max).toBe(1000);
    expect(h.percentile(50)).toBeGreaterThanOrEqual(500);
    expect(h.percentile(50)).toBeLessThan(500 * 1.2);
    expect(h.percentile(99)).toBeGreaterThanOrEqual(990);
    expect(h.percentile(99)).toBeLessThanOrEqual(1000);
  });

  it('reports 0 when empty', () => {
    expect(new LatencyHistogram().percentile(99)).toBe(0);
  });
});
