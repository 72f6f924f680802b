import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const script = fileURLToPath(new URL('./fixtures/primary-child.mjs', import.meta.url));
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A primary running in a child process (test/fixtures/primary-child.mjs), and what it printed. */
export class PrimaryChild {
  readonly acked = new Map<bigint, number>();
  readonly failures: { code: string; i: number; lsn: string }[] = [];
  epoch = 0;
  done = false;
  private buffered = '';
  private stderr = '';
  private readonly exited: Promise<number | null>;
  private readonly ready: Promise<void>;

  constructor(readonly child: ChildProcess) {
    live.add(child);
    let onReady: () => void = () => undefined;
    this.ready = new Promise((resolve) => {
      onReady = resolve;
    });
    child.stdout!.on('data', (chunk: Buffer) => {
      this.buffered += chunk.toString();
      let at = this.buffered.indexOf('\n');
      while (at >= 0) {
        const [kind, a, b, c] = this.buffered.slice(0, at).split(' ');
        this.buffered = this.buffered.slice(at + 1);
        if (kind === 'ready') {
          this.epoch = Number(a);
          onReady();
        } else if (kind === 'ack') this.acked.set(BigInt(a!), Number(b));
        else if (kind === 'fail') this.failures.push({ code: a!, i: Number(b), lsn: c ?? '' });
        else if (kind === 'done') this.done = true;
        at = this.buffered.indexOf('\n');
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-10_000);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        live.delete(child);
        resolve(code);
      }),
    );
  }

  static start(args: {
    dir: string;
    servers: string[];
    stream: string;
    mode: 'sync' | 'async';
    producers: number;
    count: number;
    pauseMs?: number;
  }): PrimaryChild {
    const child = spawn(
      process.execPath,
      [
        script,
        args.dir,
        args.servers.join(','),
        args.stream,
        args.mode,
        String(args.producers),
        String(args.count),
        String(args.pauseMs ?? 0),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    return new PrimaryChild(child);
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`the primary child did not start in ${timeoutMs} ms: ${this.stderr}`)),
        timeoutMs,
      );
    });
    const died = this.exited.then((code) => {
      throw new Error(`the primary child exited (${code}) before it was ready: ${this.stderr}`);
    });
    try {
      await Promise.race([this.ready, timeout, died]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Waits until at least `n` acknowledgements were printed (bounded). */
  async waitAcked(n: number, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.acked.size < n) {
      if (Date.now() > deadline)
        throw new Error(
          `only ${this.acked.size} of ${n} acknowledgements after ${timeoutMs} ms: ${this.stderr}`,
        );
      if (this.child.exitCode !== null)
        throw new Error(
          `the child exited with ${this.acked.size} acknowledgements: ${this.stderr}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Waits for the process to end (bounded; SIGKILL after `timeoutMs`). */
  async exit(timeoutMs = 30_000): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  get errorOutput(): string {
    return this.stderr;
  }
}
