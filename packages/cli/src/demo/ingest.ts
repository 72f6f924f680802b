import type { Wal } from '@walnut/wal';
import { formatBytes, formatCount, formatRate } from '../format.js';
import type { Output } from '../output.js';
import { startProgress } from '../progress.js';
import { LatencyRecorder } from './latency.js';
import { makePayload } from './payload.js';
import { openWal, walFacts } from './wal-session.js';

export interface IngestResult {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly fsyncs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly backend: string;
  readonly backendReason: string;
}

/**
 * Phase 1: `producers` concurrent producers each await a durable append, again and again,
 * for `seconds`. Group commit is what lets one fsync serve many of them; the bar shows it.
 */
export async function runIngest(
  dir: string,
  options: { producers: number; recordSize: number; seconds: number },
  out: Output,
): Promise<IngestResult> {
  const wal: Wal = await openWal(dir);
  const facts = walFacts(wal);
  const fsyncsBefore = facts.fsyncs;
  const latency = new LatencyRecorder();
  let records = 0;
  let bytes = 0;
  const started = performance.now();
  const deadline = started + options.seconds * 1000;

  const progress = startProgress(out, {
    total: options.seconds * 10,
    barFormat:
      'ingest |{bar}| {records} records | {mbps} MiB/s | {fsyncs} fsyncs | {perSync} records/fsync',
    initial: { records: '0', mbps: '0.0', fsyncs: '0', perSync: '0' },
    plainLine: (_v, f) =>
      `ingest: ${f.records} records, ${f.mbps} MiB/s, ${f.fsyncs} fsyncs, ${f.perSync} records/fsync`,
  });
  let shownAt = 0;
  const show = () => {
    shownAt = performance.now();
    const elapsed = (performance.now() - started) / 1000;
    const fsyncs = walFacts(wal).fsyncs - fsyncsBefore;
    progress.update(Math.min(Math.round(elapsed * 10), options.seconds * 10), {
      records: formatCount(records),
      mbps: (bytes / 2 ** 20 / Math.max(elapsed, 0.001)).toFixed(1),
      fsyncs: formatCount(fsyncs),
      perSync: fsyncs === 0 ? '-' : (records / fsyncs).toFixed(1),
    });
  };
  const ticker = setInterval(show, 100);

  const producer = async (id: number) => {
    for (let seq = 0; performance.now() < deadline; seq++) {
      const payload = makePayload(id, seq, options.recordSize);
      const t0 = performance.now();
      await wal.append(payload);
      latency.record(performance.now() - t0);
      records++;
      bytes += payload.length;
      // Also from here: appends that complete without I/O waits can starve the timer.
      if (performance.now() - shownAt >= 100) show();
    }
  };
  try {
    await Promise.all(Array.from({ length: options.producers }, (_, id) => producer(id)));
  } finally {
    clearInterval(ticker);
  }
  const seconds = (performance.now() - started) / 1000;
  show();
  progress.stop();
  const fsyncs = walFacts(wal).fsyncs - fsyncsBefore;
  await wal.shutdown(10_000);
  const [p50, p99] = latency.percentiles(50, 99);
  return {
    records,
    bytes,
    seconds,
    fsyncs,
    p50Ms: p50!,
    p99Ms: p99!,
    backend: facts.backend,
    backendReason: facts.backendReason,
  };
}

export function describeIngest(r: IngestResult): string {
  return `${formatCount(r.records)} records (${formatBytes(r.bytes)}) in ${r.seconds.toFixed(1)} s: ${formatRate(r.records / r.seconds)} records/s, ${(r.bytes / 2 ** 20 / r.seconds).toFixed(1)} MiB/s`;
}
