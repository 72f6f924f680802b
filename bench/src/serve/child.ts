import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export type ServerKind = 'walnut' | 'reference';

export interface ServerChild {
  readonly child: ChildProcess;
  readonly url: string;
}

const script = join(dirname(fileURLToPath(import.meta.url)), 'server-child.js');

/** Starts a server process on `dir`; resolves with its base URL once it listens. */
export async function startServer(kind: ServerKind, dir: string): Promise<ServerChild> {
  const child = spawn(process.execPath, [script, kind, dir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the ${kind} server did not start within 60 s`));
    }, 60_000);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (!line.startsWith('listening ')) return;
      clearTimeout(timer);
      resolve(line.slice('listening '.length));
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the ${kind} server exited (${code ?? signal}) before it listened`));
    });
  });
  return { child, url };
}

/** Stops a server: `signal` SIGTERM drains it, SIGKILL is a crash. */
export async function stopServer(server: ServerChild, signal: 'SIGTERM' | 'SIGKILL') {
  if (server.child.exitCode !== null || server.child.signalCode !== null) return;
  const exited = new Promise((resolve) => server.child.once('exit', resolve));
  server.child.kill(signal);
  await exited;
}
