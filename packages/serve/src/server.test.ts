import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type DurableStreamsServer, type ServeOptions, serve } from './index.js';

const dirs: string[] = [];
const servers: DurableStreamsServer[] = [];

afterEach(async () => {
  for (const s of servers.splice(0)) await s.close(1_000);
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function newDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'walnut-serve-'));
  dirs.push(dir);
  return dir;
}

async function start(dir: string, options: ServeOptions = {}) {
  const server = await serve(dir, options);
  servers.push(server);
  return server;
}

const text = { 'content-type': 'text/plain' };

describe('serve, safe by default', () => {
  it('listens on loopback unless told otherwise', async () => {
    const { url } = await start(newDir());
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a body above the limit with 413 and appends nothing', async () => {
    const { url } = await start(newDir(), { maxBodyBytes: 1024 });
    const stream = `${url}/v1/stream/big`;
    await fetch(stream, { method: 'PUT', headers: text });
    const refused = await fetch(stream, {
      method: 'POST',
      headers: text,
      body: 'x'.repeat(1025),
    });
    expect(refused.status).toBe(413);
    expect(await refused.text()).toMatch(/limit of 1024 bytes/);
    const head = await fetch(stream, { method: 'HEAD' });
    expect(head.headers.get('stream-next-offset')).toBe('0000000000000000_0000000000000000');
  });

  it('refuses a chunked body once it passes the limit, and appends nothing', async () => {
    const { url } = await start(newDir(), { maxBodyBytes: 1024 });
    const stream = `${url}/v1/stream/big`;
    await fetch(stream, { method: 'PUT', headers: text });
    // A stream body has no content-length: it goes chunked, and the limit is met mid-way.
    const chunks = ['x'.repeat(600), 'x'.repeat(600)];
    const refused = await fetch(stream, {
      method: 'POST',
      headers: text,
      body: new ReadableStream({
        pull(controller) {
          const chunk = chunks.shift();
          if (chunk === undefined) controller.close();
          else controller.enqueue(new TextEncoder().encode(chunk));
        },
      }),
      duplex: 'half',
    } as RequestInit);
    expect(refused.status).toBe(413);
    const head = await fetch(stream, { method: 'HEAD' });
    expect(head.headers.get('stream-next-offset')).toBe('0000000000000000_0000000000000000');
  });

  it('drops a client that does not finish its headers within headersTimeoutMs', async () => {
    const { url } = await start(newDir(), { headersTimeoutMs: 300 });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write('GET /v1/stream/slow HTTP/1.1\r\nhost: x\r\n'); // and never the blank line
    socket.resume();
    const closed = once(socket, 'close').then(() => 'closed');
    const waited = new Promise((resolve) => setTimeout(resolve, 5_000, 'still open'));
    expect(await Promise.race([closed, waited])).toBe('closed');
    socket.destroy();
  });

  it('answers 503 to a live reader beyond maxLiveReaders', async () => {
    const { url } = await start(newDir(), { maxLiveReaders: 1, longPollTimeoutMs: 2_000 });
    const stream = `${url}/v1/stream/busy`;
    await fetch(stream, { method: 'PUT', headers: text });
    const first = fetch(`${stream}?offset=now&live=long-poll`);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const second = await fetch(`${stream}?offset=now&live=long-poll`);
    expect(second.status).toBe(503);
    expect((await first).status).toBe(204);
  });

  it('keeps a stream name a name: "../" in it never reaches the file system', async () => {
    const parent = newDir();
    const dir = join(parent, 'log');
    const { url } = await start(dir);
    const put = await fetch(`${url}/v1/stream/..%2F..%2Fescaped`, { method: 'PUT', headers: text });
    expect(put.status).toBe(201);
    expect(readdirSync(parent)).toEqual(['log']);
    const read = await fetch(`${url}/v1/stream/..%2F..%2Fescaped?offset=-1`);
    expect(read.status).toBe(200);
  });

  it("refuses paths in the server's own namespace (.walnut/)", async () => {
    const { url } = await start(newDir());
    const put = await fetch(`${url}/v1/stream/.walnut/soft-deleted/x`, { method: 'PUT' });
    expect(put.status).toBe(400);
  });

  it('ends SSE responses when it drains', async () => {
    const server = await start(newDir());
    const stream = `${server.url}/v1/stream/sse`;
    await fetch(stream, { method: 'PUT', headers: text, body: 'hello' });
    const response = await fetch(`${stream}?offset=-1&live=sse`);
    const body = response.text();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await server.close();
    expect(await body).toContain('data:hello');
  });
});

describe('serve, durable', () => {
  it('answers each of concurrent POSTs with its own next offset', async () => {
    const { url } = await start(newDir());
    const stream = `${url}/v1/stream/busy`;
    await fetch(stream, { method: 'PUT', headers: text });
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetch(stream, { method: 'POST', headers: text, body: `m${i}` }),
      ),
    );
    const offsets = answers.map((a) => a.headers.get('stream-next-offset'));
    expect(new Set(offsets).size).toBe(20);
  });

  it("answers a producer's retry after a restart as a duplicate, writing nothing", async () => {
    const dir = newDir();
    const producer = { 'producer-id': 'p', 'producer-epoch': '0', 'producer-seq': '0' };
    let server = await start(dir);
    let stream = `${server.url}/v1/stream/orders`;
    await fetch(stream, { method: 'PUT', headers: text });
    const sent = await fetch(stream, {
      method: 'POST',
      headers: { ...text, ...producer },
      body: 'once',
    });
    expect(sent.status).toBe(200);
    await server.close();
    servers.length = 0;

    server = await start(dir);
    stream = `${server.url}/v1/stream/orders`;
    const retried = await fetch(stream, {
      method: 'POST',
      headers: { ...text, ...producer },
      body: 'once',
    });
    expect(retried.status).toBe(204);
    expect(retried.headers.get('stream-next-offset')).toBe(sent.headers.get('stream-next-offset'));
    expect(await (await fetch(`${stream}?offset=-1`)).text()).toBe('once');
  });

  it('keeps a soft-deleted source for its fork across a restart', async () => {
    const dir = newDir();
    let server = await start(dir);
    const source = '/v1/stream/source';
    await fetch(`${server.url}${source}`, { method: 'PUT', headers: text, body: 'kept' });
    await fetch(`${server.url}/v1/stream/fork`, {
      method: 'PUT',
      headers: { ...text, 'stream-forked-from': source },
    });
    expect((await fetch(`${server.url}${source}`, { method: 'DELETE' })).status).toBe(204);
    await server.close();
    servers.length = 0;

    server = await start(dir);
    expect((await fetch(`${server.url}${source}`, { method: 'HEAD' })).status).toBe(410);
    expect(await (await fetch(`${server.url}/v1/stream/fork?offset=-1`)).text()).toBe('kept');
    expect((await fetch(`${server.url}/v1/stream/fork`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.url}${source}`, { method: 'HEAD' })).status).toBe(404);
  });
});

describe('serve, JSON mode', () => {
  it('keeps a lone message as sent and each message of an array compact; a read is one array', async () => {
    const { url } = await start(newDir());
    const stream = `${url}/v1/stream/events`;
    const json = { 'content-type': 'application/json' };
    await fetch(stream, { method: 'PUT', headers: json });
    for (const body of ['{ "n": 1 }\n', '[{ "n": 2 }, [3]]']) {
      expect((await fetch(stream, { method: 'POST', headers: json, body })).status).toBe(204);
    }
    const read = await (await fetch(`${stream}?offset=-1`)).text();
    expect(read).toBe('[{ "n": 1 }\n,{"n":2},[3]]');
    expect(JSON.parse(read)).toEqual([{ n: 1 }, { n: 2 }, [3]]);
  });

  it('stores a lone message with bytes that are not UTF-8 as valid UTF-8, as it does an array', async () => {
    const { url } = await start(newDir());
    const stream = `${url}/v1/stream/events`;
    const json = { 'content-type': 'application/json' };
    await fetch(stream, { method: 'PUT', headers: json });
    // "a\xff" inside a string: JSON.parse reads U+FFFD for the stray byte.
    const body = Buffer.from([0x22, 0x61, 0xff, 0x22]);
    expect((await fetch(stream, { method: 'POST', headers: json, body })).status).toBe(204);
    const read = Buffer.from(await (await fetch(`${stream}?offset=-1`)).arrayBuffer());
    expect(read.toString('utf8')).toBe('["a\ufffd"]');
    expect(read.equals(Buffer.from('["a\ufffd"]', 'utf8'))).toBe(true);
  });

  it('refuses a body that is not JSON with 400, and appends nothing', async () => {
    const { url } = await start(newDir());
    const stream = `${url}/v1/stream/events`;
    const json = { 'content-type': 'application/json' };
    await fetch(stream, { method: 'PUT', headers: json });
    const refused = await fetch(stream, { method: 'POST', headers: json, body: '{"n":' });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toMatch(/not valid JSON/);
    const head = await fetch(stream, { method: 'HEAD' });
    expect(head.headers.get('stream-next-offset')).toBe('0000000000000000_0000000000000000');
  });
});
