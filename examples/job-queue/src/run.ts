import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const tsx = createRequire(import.meta.url).resolve('tsx');
const script = (name: string) => fileURLToPath(new URL(`./${name}.ts`, import.meta.url));

export interface QueueRunOptions {
  readonly dir: string;
  readonly jobs: number;
  /** The email consumer is SIGKILLed once it processed this many jobs, then restarted. */
  readonly killEmailAfter: number;
  readonly log?: (line: string) => void;
}

export interface QueueRunResult {
  /** Per consumer: jobs run (with repeats), distinct jobs, jobs run twice, and jobs never run. */
  readonly consumers: Record<
    string,
    { runs: number; distinct: number; repeated: number[]; missing: number[] }
  >;
  /**
   * The restarted email consumer's cursor (its last commit), and the last job the killed
   * one reported done (run and committed) before the kill.
   */
  readonly resume: { committedLsn: bigint; lastDoneBeforeKill: bigint };
  readonly producer: {
    lastLsn: string;
    floorLsn: string;
    segmentsDeleted: number;
    bytesDeleted: number;
    diskBytes: number;
    segments: number;
  };
}

/** A child's stdout as lines, read on demand; stopping a read never closes the pipe. */
class Lines {
  private readonly queue: string[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  constructor(stream: NodeJS.ReadableStream) {
    let rest = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      const parts = (rest + chunk).split('\n');
      rest = parts.pop()!;
      this.queue.push(...parts);
      this.wake?.();
    });
    stream.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  /** The next line, or undefined once the stream ended. */
  async next(): Promise<string | undefined> {
    while (this.queue.length === 0 && !this.ended) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
    return this.queue.shift();
  }
}

interface Child {
  readonly process: ChildProcess;
  readonly lines: Lines;
  readonly exited: Promise<NodeJS.Signals | number | null>;
}

function start(name: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--import', tsx, script(name), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('close', (code, signal) => resolve(signal ?? code)),
  );
  return { process: child, lines: new Lines(child.stdout!), exited };
}

async function waitFor(child: Child, prefix: string): Promise<string> {
  for (let line = await child.lines.next(); line !== undefined; line = await child.lines.next()) {
    if (line.startsWith(prefix)) return line;
  }
  throw new Error(`${prefix.trim()} never came: the process exited with ${await child.exited}`);
}

/**
 * The walk-through: a producer and two consumers ("billing", "email") in their own
 * processes; "email" is SIGKILLed mid-stream and restarted, and resumes at its last
 * commit + 1. Returns what each consumer ran and what retention deleted.
 */
export async function runQueue(options: QueueRunOptions): Promise<QueueRunResult> {
  const { dir, jobs } = options;
  const log = options.log ?? (() => undefined);
  const last = String(jobs);
  const out = (name: string) => join(dir, `${name}.out`);
  const producer = start('producer', [dir, last, 'billing,email']);
  await waitFor(producer, 'ready');
  log(`producer: appending ${jobs} jobs, retention by size`);
  const billing = start('consumer', [dir, 'billing', out('billing'), last]);
  let email = start('consumer', [dir, 'email', out('email'), last]);
  const children = [producer, billing, email];
  try {
    let lastDoneBeforeKill = 0n;
    while (lastDoneBeforeKill < BigInt(options.killEmailAfter)) {
      lastDoneBeforeKill = BigInt((await waitFor(email, 'processed ')).slice('processed '.length));
    }
    process.kill(email.process.pid!, 'SIGKILL');
    await email.exited;
    // What it printed before the kill landed and this process read it.
    for (let line = await email.lines.next(); line !== undefined; line = await email.lines.next()) {
      if (line.startsWith('processed '))
        lastDoneBeforeKill = BigInt(line.slice('processed '.length));
    }
    log(`email: SIGKILLed after job ${lastDoneBeforeKill}`);
    email = start('consumer', [dir, 'email', out('email'), last]);
    children.push(email);
    const committedLsn = BigInt((await waitFor(email, 'start ')).slice('start '.length));
    log(`email: restarted, resumes after its last commit, LSN ${committedLsn}`);
    const done = JSON.parse((await waitFor(producer, 'done ')).slice('done '.length));
    for (const child of [billing, email, producer]) {
      const exit = await child.exited;
      if (exit !== 0) throw new Error(`a queue process exited with ${exit}`);
    }
    const consumers: QueueRunResult['consumers'] = {};
    for (const name of ['billing', 'email']) {
      const ran = readFileSync(out(name), 'utf8').trim().split('\n').map(Number);
      const distinct = new Set<number>();
      const repeated: number[] = [];
      for (const id of ran) {
        if (distinct.has(id)) repeated.push(id);
        distinct.add(id);
      }
      const missing: number[] = [];
      for (let id = 1; id <= jobs; id++) if (!distinct.has(id)) missing.push(id);
      consumers[name] = { runs: ran.length, distinct: distinct.size, repeated, missing };
    }
    return { consumers, resume: { committedLsn, lastDoneBeforeKill }, producer: done };
  } finally {
    for (const child of children) {
      if (child.process.exitCode === null && child.process.signalCode === null) {
        process.kill(child.process.pid!, 'SIGKILL');
      }
    }
  }
}
