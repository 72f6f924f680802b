import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpConnection } from './http-connection.js';

let server: Server | undefined;
const connection = new HttpConnection();

afterEach(async () => {
  connection.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function serveWith(
  handle: (req: IncomingMessage, body: string, res: ServerResponse) => void,
) {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => handle(req, body, res));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
}

const post = (origin: string, body = '{}', timeoutMs = 5_000) =>
  connection.request(origin, 'POST', '/v1/stream/a', { 'producer-seq': '7' }, body, timeoutMs);

describe('HttpConnection', () => {
  it('sends the method, path, headers and body, and reads the status and headers', async () => {
    const origin = await serveWith((req, body, res) => {
      res.writeHead(200, {
        'stream-next-offset': `${req.method} ${req.url} ${req.headers['producer-seq']} ${body}`,
      });
      res.end();
    });
    const answer = await post(origin, '{"é":1}');
    expect(answer.status).toBe(200);
    expect(answer.headers['stream-next-offset']).toBe('POST /v1/stream/a 7 {"é":1}');
  });

  it('reads bodies of a declared length and chunked ones, and keeps the connection for the next request', async () => {
    let sockets = 0;
    let turn = 0;
    const origin = await serveWith((_req, _body, res) => {
      turn++;
      if (turn === 1) res.writeHead(409, { 'content-type': 'text/plain' }).end('no\r\n\r\nmore');
      else if (turn === 2) {
        res.writeHead(200);
        res.write('a'.repeat(70_000));
        res.end('tail\r\n\r\n');
      } else res.writeHead(204).end();
    });
    server!.on('connection', () => sockets++);
    expect((await post(origin)).status).toBe(409);
    expect((await post(origin)).headers['transfer-encoding']).toBe('chunked');
    expect((await post(origin)).status).toBe(204);
    expect(sockets).toBe(1);
  });

  it('rejects when the server drops the connection, and connects again on the next request', async () => {
    let turn = 0;
    const origin = await serveWith((_req, _body, res) => {
      if (++turn === 1) res.socket?.destroy();
      else res.writeHead(204).end();
    });
    await expect(post(origin)).rejects.toThrow(/closed the connection/);
    expect((await post(origin)).status).toBe(204);
  });

  it('rejects when no answer comes in time', async () => {
    const origin = await serveWith(() => {});
    await expect(post(origin, '{}', 50)).rejects.toThrow(/no answer within 50 ms/);
  });

  it('follows the origin it is given: a restarted server on another port', async () => {
    const first = await serveWith((_req, _body, res) => res.writeHead(204).end());
    expect((await post(first)).status).toBe(204);
    const old = server!;
    const second = await serveWith((_req, _body, res) => res.writeHead(201).end());
    old.closeAllConnections();
    old.close();
    expect((await post(second)).status).toBe(201);
  });
});
