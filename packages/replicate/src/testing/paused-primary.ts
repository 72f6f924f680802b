import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { sleep } from './nats-cluster.js';

export interface PausedPrimaryArgs {
  readonly dir: string;
  readonly servers: readonly string[];
  readonly stream: string;
  readonly producers: number;
  readonly appendsPerSecond: number;
  readonly recordSize: number;
}

// The child is always the built one: from src/ (vitest) as from dist/.
const script = fileURLToPath(
  new URL(
    import.meta.url.endsWith('.ts')
      ? '../../dist/testing/paused-primary-child.js'
      : './paused-primary-child.js',
    import.meta.url,
  ),
);

/**
 * A sync primary with its producers in a child process (paused-primary-child.ts), which
 * the nemesis stops and continues with SIGSTOP / SIGCONT; what it acknowledged, by LSN.
 */
export class PausedPrimary {
  /** LSN → the number of the append it acknowledged. */
  readonly acked: number[] = [];
  ackedCount = 0;
  lastAckAt = performance.now();
  readonly refused: Record<string, number> = {};
  /** Its counts, once it stopped: re-seeds, stale reads, step-downs, and whether it diverged. */
  final: { reseeds: number; staleReads: number; stepDowns: number; diverged: boolean } | null =
    null;
  private ready = false;
  private buffered = '';
  private stderr = '';
  private readonly exited: Promise<number | null>;

  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
  ) {
    child.stdout!.on('data', (chunk: Buffer) => this.read(chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4_000);
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Starts it and waits (up to 60 s) until its primary is open. */
  static async start(args: PausedPrimaryArgs): Promise<PausedPrimary> {
    const child = spawn(process.execPath, [script, JSON.stringify(args)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const primary = new PausedPrimary(child, args.dir);
    const deadline = performance.now() + 60_000;
    while (!primary.ready) {
      if (child.exitCode !== null || performance.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`the paused primary did not open: ${primary.stderr}`);
      }
      await sleep(50);
    }
    return primary;
  }

  private read(text: string): void {
    this.buffered += text;
    let at = this.buffered.indexOf('\n');
    while (at >= 0) {
      const [kind, a, b, c, d] = this.buffered.slice(0, at).split(' ');
      this.buffered = this.buffered.slice(at + 1);
      if (kind === 'ready') this.ready = true;
      else if (kind === 'a') {
        this.acked[Number(a)] = Number(b);
        this.ackedCount++;
        this.lastAckAt = performance.now();
      } else if (kind === 'f') this.refused[a!] = (this.refused[a!] ?? 0) + 1;
      else if (kind === 's') {
        this.final = {
          reseeds: Number(a),
          staleReads: Number(b),
          stepDowns: Number(c),
          diverged: d === '1',
        };
      }
      at = this.buffered.indexOf('\n');
    }
  }

  signal(signal: 'SIGSTOP' | 'SIGCONT'): void {
    this.child.kill(signal);
  }

  /** Stops its producers and closes its primary (SIGKILL after 60 s); true if it exited cleanly. */
  async stop(): Promise<boolean> {
    if (this.child.exitCode !== null) return false;
    this.child.kill('SIGCONT');
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 60_000);
    try {
      return (await this.exited) === 0;
    } finally {
      clearTimeout(timer);
    }
  }

  get errorOutput(): string {
    return this.stderr;
  }
}
