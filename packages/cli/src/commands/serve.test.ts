import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { removeTempDirs, tempDir } from '@walnut/storage-io/testing';
import { Streams } from '@walnut/streams';
import { afterEach, describe, expect, it } from 'vitest';

afterEach(removeTempDirs);

const bin = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'cli.js');

/** Starts `walnut serve` and resolves with the child and the URL of its first stdout line. */
async function start(dir: string, ...args: string[]) {
  const child = spawn(process.execPath, [bin, 'serve', dir, ...args], { stdio: 'pipe' });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  const url = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`walnut serve exited with ${code}`)));
  });
  return { child, url, exited };
}

describe('walnut serve', () => {
  it('prints its loopback base URL first, serves /v1/stream/, and drains on SIGTERM with exit 0', async () => {
    const dir = tempDir();
    const { child, url, exited } = await start(dir, '--port', '0');
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const stream = `${url}/v1/stream/orders`;
    expect(
      (await fetch(stream, { method: 'PUT', headers: { 'content-type': 'text/plain' } })).status,
    ).toBe(201);
    const append = await fetch(stream, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'first',
    });
    expect(append.status).toBe(204);
    // A long-poll at the tail is waiting when the server is told to stop: it gets its
    // answer (204, up to date) rather than a cut connection.
    const tail = append.headers.get('stream-next-offset')!;
    const waiting = fetch(`${stream}?offset=${tail}&live=long-poll`);
    await new Promise((resolve) => setTimeout(resolve, 200));
    child.kill('SIGTERM');
    expect((await waiting).status).toBe(204);
    expect(await exited).toBe(0);

    const streams = await Streams.open(dir, { readOnly: true });
    const { records } = await streams.read('orders', 0);
    expect(records.map((r) => r.payload.toString())).toEqual(['first']);
    await streams.shutdown();
  });

  it('stops on Ctrl-C (SIGINT) with exit 0 too', async () => {
    const { child, exited } = await start(tempDir());
    child.kill('SIGINT');
    expect(await exited).toBe(0);
  });

  it('refuses a port above 65535 as a usage error', async () => {
    const child = spawn(process.execPath, [bin, 'serve', tempDir(), '--port', '70000']);
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
  });
});
