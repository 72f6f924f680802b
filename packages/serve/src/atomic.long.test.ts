import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../test/server-process.js';

const cycles = Number(process.env.WALNUT_SERVE_ATOMIC_CYCLES ?? 6);
const CLIENTS = 16;
const dir = mkdtempSync(join(tmpdir(), 'walnut-serve-atomic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const json = { 'content-type': 'application/json' };
/** No request waits on a killed server's socket for long. */
const signal = () => AbortSignal.timeout(5000);

/**
 * Client `c` makes streams one after another: even clients by a PUT with a body (create and
 * first message), odd ones by an empty PUT and then a POST with a body and Stream-Closed
 * (last message and close). Each name is noted before its requests are sent.
 */
async function client(url: () => string, c: number, tried: string[], stop: () => boolean) {
  for (let i = 0; !stop(); i++) {
    const name = `c${c}-${i}`;
    tried.push(name);
    const at = `${url()}/v1/stream/${name}`;
    // Paced, so that a cycle makes a few hundred streams, not thousands, on a slow machine.
    await sleep(10);
    try {
      if (c % 2 === 0) {
        await fetch(at, {
          method: 'PUT',
          headers: json,
          body: JSON.stringify({ c, i }),
          signal: signal(),
        });
      } else {
        const put = await fetch(at, { method: 'PUT', headers: json, signal: signal() });
        if (put.status !== 201) continue;
        await fetch(at, {
          method: 'POST',
          headers: { ...json, 'stream-closed': 'true' },
          body: JSON.stringify({ c, i }),
          signal: signal(),
        });
      }
    } catch {
      // The server was killed: the next stream goes to the next server.
      await sleep(20);
    }
  }
}

/** How a stream the clients tried came through a crash: absent, or its messages and state. */
async function stateOf(url: string, name: string) {
  const res = await fetch(`${url}/v1/stream/${name}`, { method: 'HEAD', signal: signal() });
  if (res.status === 404) return 'absent';
  const messages = Number(res.headers.get('stream-next-offset')!.split('_')[1]);
  return `${messages} message(s), ${res.headers.get('stream-closed') === 'true' ? 'closed' : 'open'}`;
}

describe('walnut serve killed with SIGKILL while streams are created with a body or closed by an append', () => {
  it(`never leaves half of one: a stream without its first message, or a last message without the close (${cycles} kills)`, async () => {
    let server = await startServer(dir);
    let stopped = false;
    const tried: string[] = [];
    const running = Array.from({ length: CLIENTS }, (_, c) =>
      client(
        () => server.url,
        c,
        tried,
        () => stopped,
      ),
    );
    const halves: string[] = [];
    const whole = new Map<string, number>();
    let checked = 0;
    for (let cycle = 0; cycle < cycles; cycle++) {
      await sleep(300 + Math.floor(Math.random() * 400));
      server.child.kill('SIGKILL');
      await new Promise((resolve) => server.child.once('exit', resolve));
      const names = tried.splice(0);
      process.stderr.write(`cycle ${cycle}: ${names.length} streams to check\n`);
      server = await startServer(dir);
      const states = [];
      // A few at a time: the clients go on meanwhile.
      for (let i = 0; i < names.length; i += 32) {
        const some = names.slice(i, i + 32);
        states.push(...(await Promise.all(some.map((name) => stateOf(server.url, name)))));
      }
      for (const [n, name] of names.entries()) {
        const state = states[n]!;
        checked++;
        const creates = Number(name.slice(1).split('-')[0]) % 2 === 0;
        const fine = creates
          ? ['absent', '1 message(s), open']
          : ['absent', '0 message(s), open', '1 message(s), closed'];
        if (!fine.includes(state as string)) halves.push(`${name}: ${state}`);
        else whole.set(state, (whole.get(state) ?? 0) + 1);
      }
    }
    stopped = true;
    await Promise.all(running);
    server.child.kill('SIGTERM');
    await new Promise((resolve) => server.child.once('exit', resolve));
    console.log(
      `serve atomicity: ${cycles} SIGKILLs, ${checked} streams checked (${[...whole].map(([s, n]) => `${n} ${s}`).join(', ')}), ${halves.length} half-made`,
    );
    expect(halves).toEqual([]);
    // Each kind of whole outcome happened, so the kills landed among the requests.
    expect(whole.get('1 message(s), closed')).toBeGreaterThan(0);
    expect(whole.get('1 message(s), open')).toBeGreaterThan(0);
  }, 300_000);
});
