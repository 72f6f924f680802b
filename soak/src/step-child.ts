import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** What a step's child process left: its complete output lines, how it ended, its stderr. */
export interface StepRun {
  lines: string[];
  exit: string;
  stderr: string;
}

/**
 * The path of the built child script `name` (`fs-power-child`, …). Under vitest the soak's
 * modules run from their TypeScript sources; a child always runs built.
 */
export function childScript(name: string): string {
  const built = import.meta.url.endsWith('.ts') ? `../dist/${name}.js` : `./${name}.js`;
  return fileURLToPath(new URL(built, import.meta.url));
}

/** Runs `script` with `config` as its argument, killed after 60 s at the latest. */
export function runStep(script: string, config: unknown): Promise<StepRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, JSON.stringify(config)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    let out = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      out += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // A last line cut short by the end of the process was never acknowledged.
      const lines = out.split('\n');
      lines.pop();
      resolve({ lines, exit: signal ?? `code ${code}`, stderr: stderr.trim() });
    });
  });
}
