import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { tempDir } from '@walnut/storage-io/testing';
import { describe, expect, it } from 'vitest';
import { streamName, useReplication } from './helpers.js';

// The primary runs the built package in a child process: build first (pnpm test does).
const CHILD = fileURLToPath(new URL('./fixtures/close-then-exit-child.mjs', import.meta.url));

const { cluster } = useReplication();

describe('a closed primary', () => {
  it('leaves nothing that holds its process open: it exits well before close’s timeout', async () => {
    const child = spawn(
      process.execPath,
      [CHILD, tempDir(), cluster().servers.join(','), streamName('close-exit')],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (chunk) => {
      out += chunk;
    });
    child.stderr.on('data', (chunk) => {
      out += chunk;
    });
    // close(60_000) finished at once on a healthy cluster; a timer of it left running would
    // keep the process for the rest of that minute.
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 30_000);
      child.once('exit', (exit) => {
        clearTimeout(timer);
        resolve(exit);
      });
    });
    expect({ code, out: out.trim() }).toEqual({ code: 0, out: 'closed' });
  });
});
