import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The example runs plain Node against the BUILT packages: `pnpm run build` first.
const MAIN = fileURLToPath(new URL('./main.mjs', import.meta.url));

describe('the replicated failover example', () => {
  it('kills the primary, the follower takes over, and every acknowledged order is in its log', async () => {
    const child = spawn(process.execPath, [MAIN, '--run-ms', '1500'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    const code = await new Promise((resolve) => child.once('exit', resolve));
    clearTimeout(timer);
    expect(code, stderr).toBe(0);
    const events = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    const killed = events.find((e) => e.event === 'primary-killed');
    expect(killed.acknowledged).toBeGreaterThan(0);
    expect(events.find((e) => e.event === 'promoted')).toMatchObject({ epoch: 2 });
    expect(events.at(-1)).toMatchObject({ event: 'verified', missing: 0, appendedBySecond: 100 });
  });
});
