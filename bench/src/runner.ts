/** Spawns one child process per run (optionally under strace) and collects its answer. */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { DriverTask } from './drivers.js';
import { readTrace, type SyscallCounts, straceArgs } from './durability.js';
import { type ChildRequest, type ChildResponse, RESPONSE_MARKER } from './protocol.js';

export interface ChildOutcome {
  readonly response: ChildResponse;
  readonly strace?: SyscallCounts;
  readonly seconds: number;
}

export interface SpawnOptions {
  readonly childScript: string;
  readonly timeoutMs: number;
  /** Write the trace here and run under strace (durable runs). */
  readonly traceFile?: string;
}

export function runChild(
  contender: string,
  task: DriverTask | undefined,
  options: SpawnOptions,
): Promise<ChildOutcome> {
  const request: ChildRequest = task === undefined ? { contender } : { contender, task };
  const nodeArgs = [options.childScript, JSON.stringify(request)];
  const [command, args] =
    options.traceFile === undefined
      ? [process.execPath, nodeArgs]
      : ['strace', [...straceArgs(options.traceFile), process.execPath, ...nodeArgs]];
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr = (stderr + text).slice(-4000);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const seconds = (performance.now() - started) / 1000;
      const line = stdout.split('\n').find((l) => l.startsWith(RESPONSE_MARKER));
      let response: ChildResponse;
      if (line !== undefined) {
        response = JSON.parse(line.slice(RESPONSE_MARKER.length)) as ChildResponse;
      } else if (timedOut) {
        response = { kind: 'failed', error: `timed out after ${options.timeoutMs / 1000} s` };
      } else {
        const tail = stderr.trim().split('\n').slice(-3).join(' / ');
        // Node exits with 13 when the event loop empties while top-level await still waits.
        const why =
          code === 13 ? 'a promise never settled and nothing kept the event loop alive' : '';
        response = {
          kind: 'failed',
          error: `child exited (${signal ?? code})${why ? `: ${why}` : ''}${tail ? `: ${tail}` : ''}`,
        };
      }
      let strace: SyscallCounts | undefined;
      if (options.traceFile !== undefined) {
        try {
          strace = readTrace(options.traceFile);
        } catch {
          strace = undefined;
        }
        rmSync(options.traceFile, { force: true });
      }
      resolve(strace === undefined ? { response, seconds } : { response, strace, seconds });
    });
  });
}

export function traceFileFor(dataDir: string, name: string): string {
  return join(dataDir, `${name}.strace`);
}
