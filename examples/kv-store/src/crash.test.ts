import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { KvStore } from './kv-store.js';

const writer = fileURLToPath(new URL('./crash-writer.ts', import.meta.url));
const tsx = createRequire(import.meta.url).resolve('tsx');

it('loses nothing it acknowledged when killed with SIGKILL mid-write', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'walnut-kv-crash-'));
  try {
    // The child runs the built @walnut/wal (dist/), like a real application.
    const child = spawn(process.execPath, ['--import', tsx, writer, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked: number[] = [];
    let snapshots = 0;
    let stderr = '';
    let rest = '';
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) =>
      child.on('close', (_code, signal) => resolve(signal)),
    );
    const deadline = setTimeout(() => child.kill('SIGKILL'), 40_000);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop()!;
      for (const line of lines) {
        if (line.startsWith('snapshot ')) snapshots++;
        else if (line !== 'ready') acked.push(Number(line));
      }
      // Enough changes for a few snapshots and truncations, then pull the plug.
      if (acked.length >= 2_000 && snapshots >= 2 && child.exitCode === null) child.kill('SIGKILL');
    });
    const signal = await exited;
    clearTimeout(deadline);
    expect(snapshots).toBeGreaterThanOrEqual(2);
    expect(stderr).toBe('');
    expect(signal).toBe('SIGKILL');

    const store = await KvStore.open(dir);
    const stats = store.stats();
    expect(stats.snapshotLsn).toBeGreaterThan(0n);
    expect(stats.floorLsn).toBeGreaterThan(1n);
    const missing = acked.filter((i) => store.get(`key-${i}`) !== `value-${i}`);
    expect(missing).toEqual([]);
    await store.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}, 60_000);
