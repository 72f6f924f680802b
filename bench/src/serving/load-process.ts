/**
 * Where W6's load generator runs. In the bench it is a separate process (`load-child.ts`), so
 * that its timers and its clock keep time while the loop under test is blocked; the tests run
 * it in-process, which exercises the same code without a build.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { LoadGenerator, type LoadPlan, type LoadSummary } from './load.js';

export interface LoadHandle {
  /** Sends the plan's requests and resolves with their latencies once all are answered. */
  run(plan: LoadPlan): Promise<LoadSummary>;
  close(): Promise<void>;
}

/** Starts a generator aimed at `url`; resolves once its connections are open. */
export type StartLoad = (url: string) => Promise<LoadHandle>;

export type LoadMessage =
  | { readonly kind: 'ready' }
  | { readonly kind: 'done'; readonly summary: LoadSummary }
  | { readonly kind: 'failed'; readonly error: string };

/** The parent's request to run one plan (the warm-up's, then the measured one's). */
export interface GoMessage {
  readonly kind: 'go';
  readonly plan: LoadPlan;
}

/** The IPC side of a process: `process` in the child, a fake in the tests. */
export interface Port {
  on(event: 'message', listener: (message: GoMessage) => void): unknown;
  send?(message: LoadMessage): unknown;
}

/** The child's half of the protocol: says `ready`, then answers every plan it is sent. */
export function servePlans(generator: Pick<LoadGenerator, 'run'>, port: Port): void {
  const send = (message: LoadMessage) => port.send?.(message);
  port.on('message', (message) => {
    generator.run(message.plan).then(
      (summary) => send({ kind: 'done', summary }),
      (error: Error) => send({ kind: 'failed', error: error.message }),
    );
  });
  send({ kind: 'ready' });
}

export const startLoadInProcess: StartLoad = async (url) => {
  const generator = new LoadGenerator(url);
  await generator.warmUp();
  return {
    run: (plan) => generator.run(plan),
    close: async () => generator.close(),
  };
};

/** The compiled `load-child.js` beside this file (the bench runs from `dist/`). */
const CHILD_SCRIPT = fileURLToPath(new URL('./load-child.js', import.meta.url));

function nextMessage(child: ChildProcess): Promise<LoadMessage> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: LoadMessage) => {
      child.off('exit', onExit);
      if (message.kind === 'failed') reject(new Error(`load generator: ${message.error}`));
      else resolve(message);
    };
    const onExit = (code: number | null, signal: string | null) => {
      child.off('message', onMessage);
      reject(new Error(`load generator exited (${signal ?? code})`));
    };
    child.once('message', onMessage);
    child.once('exit', onExit);
  });
}

export const startLoadProcess: StartLoad = async (url) => {
  const child = fork(CHILD_SCRIPT, [url], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  try {
    await nextMessage(child);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    async run(plan) {
      const answer = nextMessage(child);
      child.send({ kind: 'go', plan } satisfies GoMessage);
      const message = await answer;
      if (message.kind !== 'done') throw new Error(`load generator answered ${message.kind}`);
      return message.summary;
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
    },
  };
};
