/**
 * SIGKILL cycles of `walnut serve` and of `@durable-streams/server`'s file store under the
 * bench's load (issue #60, "Crashes"): `pnpm --filter @walnut/bench run bench:serve-crash
 * [--cycles 100] [--producers 64] [--streams 100] [--dir PATH]`. Producers POST with
 * producer headers and retry each unacknowledged stamp against the restarted server; after
 * the last cycle the server is started once more and every stream read whole. Per server:
 * acknowledged POSTs, those missing, those present twice (any message twice, acknowledged or
 * not), offset tokens handed to two different POSTs acknowledged as fresh appends (not as
 * duplicates), and restarts that failed.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type ServerChild, type ServerKind, startServer, stopServer } from './serve/child.js';
import { type Ack, createStreams, runLoad, streamPath } from './serve/load.js';

const { values } = parseArgs({
  options: {
    cycles: { type: 'string', default: '100' },
    producers: { type: 'string', default: '64' },
    streams: { type: 'string', default: '100' },
    dir: { type: 'string' },
  },
});
const cycles = Number(values.cycles);
const producers = Number(values.producers);
const streams = Number(values.streams);
const root = values.dir ?? tmpdir();
mkdirSync(root, { recursive: true });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every message of a JSON stream, read page by page from the start as a client would. */
async function readAll(url: string): Promise<{ id: string; seq: number }[]> {
  const all: { id: string; seq: number }[] = [];
  for (let offset = '-1', pages = 0; pages < 100_000; pages++) {
    const res = await fetch(`${url}?offset=${offset}`);
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status}`);
    all.push(...((await res.json()) as { id: string; seq: number }[]));
    offset = res.headers.get('stream-next-offset')!;
    if (res.headers.get('stream-up-to-date') === 'true') return all;
  }
  throw new Error(`${url} did not end within 100,000 pages`);
}

interface Report {
  acknowledged: number;
  duplicatesAnswered: number;
  lost: number;
  twice: number;
  offsetsReused: number;
  failedStarts: number;
  refusal: string | undefined;
}

async function crashCycles(kind: ServerKind): Promise<Report> {
  const dir = mkdtempSync(join(root, `walnut-serve-crash-${kind}-`));
  const report: Report = {
    acknowledged: 0,
    duplicatesAnswered: 0,
    lost: 0,
    twice: 0,
    offsetsReused: 0,
    failedStarts: 0,
    refusal: undefined,
  };
  /** `${stream} ${producer} ${seq}` → the offset token of its (first) acknowledgement. */
  const acks = new Map<string, string>();
  let server: ServerChild = await startServer(kind, dir);
  try {
    await createStreams(server.url, streams);
    let stop = false;
    const running = runLoad({
      url: () => server.url,
      producers,
      streams,
      stop: () => stop,
      onAck: (ack: Ack) => {
        const key = `${ack.stream} ${ack.producer} ${ack.seq}`;
        if (ack.duplicate) report.duplicatesAnswered++;
        // A duplicate's answer may carry the stream's tail rather than its own (the
        // reference server's does): only fresh appends' tokens are compared.
        if (!acks.has(key)) acks.set(key, ack.duplicate ? '' : ack.offset);
      },
      onRefusal: (message) => {
        report.refusal ??= message;
      },
    });
    for (let cycle = 0; cycle < cycles; cycle++) {
      await sleep(200 + Math.floor(Math.random() * 400));
      await stopServer(server, 'SIGKILL');
      for (let attempt = 0; ; attempt++) {
        try {
          server = await startServer(kind, dir);
          break;
        } catch (error) {
          report.failedStarts++;
          if (attempt >= 2) throw error;
        }
      }
    }
    await sleep(500);
    stop = true;
    await running;
    await stopServer(server, 'SIGTERM');
    server = await startServer(kind, dir);
    const tokens = new Map<string, string>();
    for (const [key, token] of acks) {
      if (token === '') continue;
      const stream = key.split(' ')[0];
      const other = tokens.get(`${stream} ${token}`);
      if (other !== undefined) report.offsetsReused++;
      else tokens.set(`${stream} ${token}`, key);
    }
    const seen = new Set<string>();
    for (let s = 0; s < streams; s++) {
      for (const m of await readAll(streamPath(server.url, s))) {
        const key = `${s} ${m.id} ${m.seq}`;
        if (seen.has(key)) report.twice++;
        seen.add(key);
      }
    }
    for (const key of acks.keys()) if (!seen.has(key)) report.lost++;
    report.acknowledged = acks.size;
    return report;
  } finally {
    await stopServer(server, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(' ');
console.log(
  `serve crash: ${cycles} SIGKILLs per server, ${producers} producers over ${streams} streams`,
);
const reports: [ServerKind, Report, string][] = [];
for (const kind of ['walnut', 'reference'] as const) {
  const before = load();
  const report = await crashCycles(kind);
  reports.push([kind, report, `${before} → ${load()}`]);
  console.log(`${kind}: ${JSON.stringify(report)} (load ${before} → ${load()})`);
}
console.log('server     kills  acknowledged  lost  twice  offsets reused  failed starts');
for (const [kind, r] of reports) {
  console.log(
    `${kind.padEnd(9)}  ${String(cycles).padStart(5)}  ${String(r.acknowledged).padStart(12)}  ${String(r.lost).padStart(4)}  ${String(r.twice).padStart(5)}  ${String(r.offsetsReused).padStart(14)}  ${String(r.failedStarts).padStart(13)}${r.refusal ? `  refused: ${r.refusal}` : ''}`,
  );
}
