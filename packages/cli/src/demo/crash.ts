import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { formatCount } from '../format.js';
import type { Output } from '../output.js';
import { startProgress } from '../progress.js';
import { checkPayload } from './payload.js';
import { openWal } from './wal-session.js';

export interface CrashResult {
  readonly pid: number;
  /** Records the child acknowledged (and the parent received) before it was killed. */
  readonly acknowledged: number;
  readonly writerMs: number;
}

export interface RecoveryResult {
  readonly openMs: number;
  /** The replay, with the check of every payload against what was acknowledged. */
  readonly replayMs: number;
  readonly recovered: number;
  readonly acknowledgedFound: number;
  /** Records on disk that were written but not yet acknowledged when the kill came. */
  readonly unacknowledged: number;
  readonly problems: readonly string[];
}

/** Acknowledged records by LSN: who wrote it and its sequence number. */
class Acks {
  readonly producer: number[] = [];
  readonly seq: number[] = [];
  count = 0;

  add(lsn: number, producer: number, seq: number): void {
    this.producer[lsn] = producer;
    this.seq[lsn] = seq;
    this.count++;
  }
}

/**
 * The built child script. From the bundle (dist/cli.js and its chunks) it sits beside the
 * code; from the TypeScript sources (tests) it is the package's dist/ build.
 */
export function writerScriptPath(): string {
  const here = import.meta.url;
  const url = here.endsWith('.ts')
    ? new URL('../../dist/demo-writer.js', here)
    : new URL('./demo-writer.js', here);
  return fileURLToPath(url);
}

/**
 * Phase 2: a child process writes with `producers` concurrent producers, reporting every
 * acknowledged record; after `crashAfterMs` of acknowledged writing it gets SIGKILL — no
 * shutdown, no flush, writes in flight.
 */
export async function runCrash(
  dir: string,
  options: { producers: number; recordSize: number; crashAfterMs: number },
  out: Output,
  acks: Acks = new Acks(),
): Promise<CrashResult & { acks: Acks; backend: { backend: string; reason: string } | null }> {
  const script = writerScriptPath();
  if (!existsSync(script)) {
    throw new Error(`the demo writer ${script} is not built; run \`pnpm run build\` first`);
  }
  const child = spawn(
    process.execPath,
    [script, dir, String(options.producers), String(options.recordSize)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let backend: { backend: string; reason: string } | null = null;
  let stderr = '';
  let rest = '';
  let firstAckAt = 0;
  const started = performance.now();
  const progress = startProgress(out, {
    total: options.crashAfterMs,
    barFormat: 'crash  |{bar}| {acked} records acknowledged by writer pid {pid} | {state}',
    initial: { acked: '0', pid: String(child.pid), state: 'starting' },
    plainLine: (_v, f) =>
      `crash: ${f.acked} records acknowledged by writer pid ${f.pid}, ${f.state}`,
  });
  const fields = (state: string) => ({
    acked: formatCount(acks.count),
    pid: String(child.pid),
    state,
  });

  child.stderr.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const killed = new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | null = null;
    const kill = () => {
      progress.update(options.crashAfterMs, fields('SIGKILL'));
      child.kill('SIGKILL');
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('ready ')) {
          backend = JSON.parse(line.slice(6));
          continue;
        }
        const [lsn, producer, seq] = line.split(' ').map(Number);
        acks.add(lsn!, producer!, seq!);
        if (firstAckAt === 0) {
          firstAckAt = performance.now();
          timer = setTimeout(kill, options.crashAfterMs);
        }
      }
      if (firstAckAt > 0 && child.exitCode === null) {
        progress.update(
          Math.min(performance.now() - firstAckAt, options.crashAfterMs),
          fields('writing'),
        );
      }
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      progress.stop();
      if (signal === 'SIGKILL') resolve();
      else
        reject(
          new Error(
            `the demo writer exited by itself (code ${code}, signal ${signal}): ${stderr.trim()}`,
          ),
        );
    });
  });
  await killed;
  return {
    pid: child.pid ?? 0,
    acknowledged: acks.count,
    writerMs: performance.now() - started,
    acks,
    backend,
  };
}

/**
 * Phase 3: reopen the crashed log (recovery runs in open), replay everything and check
 * that every acknowledged record is there, at its LSN, byte for byte.
 */
export async function recoverAndVerify(
  dir: string,
  acks: Acks,
  recordSize: number,
): Promise<RecoveryResult> {
  const t0 = performance.now();
  const wal = await openWal(dir);
  const openMs = performance.now() - t0;
  const problems: string[] = [];
  let recovered = 0;
  let acknowledgedFound = 0;
  let unacknowledged = 0;
  let expected = 1n;
  const t1 = performance.now();
  let replayMs: number;
  try {
    await wal.replay(1n, (record) => {
      recovered++;
      if (record.lsn !== expected && problems.length < 10) {
        problems.push(`LSN ${record.lsn} follows LSN ${expected - 1n}`);
      }
      expected = record.lsn + 1n;
      const claimed = checkPayload(record.payload, recordSize);
      if (claimed === null) {
        if (problems.length < 10)
          problems.push(`LSN ${record.lsn}: payload bytes are not what was written`);
        return;
      }
      const i = Number(record.lsn);
      const producer = acks.producer[i];
      if (producer === undefined) {
        unacknowledged++;
        return;
      }
      if (producer !== claimed.producer || acks.seq[i] !== claimed.seq) {
        if (problems.length < 10) {
          problems.push(
            `LSN ${record.lsn} holds producer ${claimed.producer} #${claimed.seq}, acknowledged as producer ${producer} #${acks.seq[i]}`,
          );
        }
        return;
      }
      acknowledgedFound++;
    });
    replayMs = performance.now() - t1;
  } finally {
    await wal.close();
  }
  if (acknowledgedFound !== acks.count) {
    problems.push(`${acks.count - acknowledgedFound} acknowledged record(s) are missing or wrong`);
  }
  return { openMs, replayMs, recovered, acknowledgedFound, unacknowledged, problems };
}

export { Acks };
