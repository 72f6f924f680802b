import type { IncomingMessage, ServerResponse } from 'node:http';
import { nextCursor } from './cursor.js';
import { badRequest } from './errors.js';
import { header, isJson, isText, mediaType } from './headers.js';
import { jsonArray } from './json.js';
import { readLogical } from './logical.js';
import { formatToken as offsetOf, parseToken } from './offsets.js';
import type { Registry, View } from './registry.js';
import type { Waiters } from './waiters.js';

export interface ReadContext {
  readonly registry: Registry;
  readonly waiters: Waiters;
  readonly maxChunkBytes: number;
  readonly longPollTimeoutMs: number;
  readonly sseMaxMs: number;
  readonly now: () => number;
}

const CATCH_UP_CACHE = 'public, max-age=60, stale-while-revalidate=300';

/** HEAD (PROTOCOL.md 5.5): never cached, so a tail offset or closure is never stale. */
export async function head(ctx: ReadContext, name: string, path: string) {
  const info = await ctx.registry.find(name, path, false);
  const headers: Record<string, string> = {
    'content-type': info.contentType,
    'stream-next-offset': offsetOf(info.tail),
    'cache-control': 'no-store',
  };
  if (info.ttl !== undefined) headers['stream-ttl'] = String(info.ttl);
  if (info.expiresAt !== undefined) {
    headers['stream-expires-at'] = new Date(info.expiresAt).toISOString();
  }
  if (info.info.closed) headers['stream-closed'] = 'true';
  return { status: 200, headers };
}

/** The start of a read: `-1` (or none) is the beginning, `now` the tail. */
function startOf(raw: string | null, info: View): number | 'now' {
  if (raw === null || raw === '-1') return 0;
  if (raw === 'now') return 'now';
  const n = parseToken('offset', raw);
  if (n > info.tail) throw badRequest(`offset "${raw}" is past the stream's tail`);
  return n;
}

/** GET: catch-up, long-poll or SSE (PROTOCOL.md 5.6–5.8). */
export async function get(
  ctx: ReadContext,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  name: string,
  path: string,
  common: Record<string, string>,
): Promise<void> {
  const live = url.searchParams.get('live');
  if (live !== null && live !== 'long-poll' && live !== 'sse') {
    throw badRequest(`live must be long-poll or sse, got "${live}"`);
  }
  const rawOffset = url.searchParams.get('offset');
  if (live !== null && rawOffset === null) throw badRequest(`live=${live} needs an offset`);
  const info = await ctx.registry.find(name, path, true);
  const start = startOf(rawOffset, info);
  const type = mediaType(info.contentType)!;
  const cursor = () => nextCursor(ctx.now(), url.searchParams.get('cursor') ?? undefined);

  if (live === 'sse') return sse(ctx, req, res, name, path, start, type, cursor, common);

  const from = start === 'now' ? info.tail : start;
  if (live === 'long-poll') {
    ctx.waiters.reserve();
    const ac = new AbortController();
    const gone = () => ac.abort();
    res.on('close', gone);
    try {
      const deadline = ctx.now() + ctx.longPollTimeoutMs;
      // False once the wait timed out or the server drains: then the answer is a 204.
      let waiting = true;
      for (;;) {
        const now = await ctx.registry.find(name, path, false);
        if (now.tail > from) break;
        if (now.info.closed || !waiting || ctx.now() >= deadline) {
          const headers: Record<string, string> = {
            ...common,
            'stream-next-offset': offsetOf(now.tail),
            'stream-up-to-date': 'true',
            'cache-control': 'no-store',
          };
          if (now.info.closed) headers['stream-closed'] = 'true';
          else headers['stream-cursor'] = cursor();
          res.writeHead(204, headers).end();
          return;
        }
        waiting = await ctx.waiters.wait(name, deadline - ctx.now(), ac.signal);
        if (ac.signal.aborted) return;
      }
    } finally {
      res.off('close', gone);
    }
  }

  if (start === 'now' && live === null) {
    const headers: Record<string, string> = {
      ...common,
      'content-type': type,
      'stream-next-offset': offsetOf(info.tail),
      'stream-up-to-date': 'true',
      'cache-control': 'no-store',
    };
    if (info.info.closed) headers['stream-closed'] = 'true';
    res.writeHead(200, headers).end(isJson(type) ? '[]' : '');
    return;
  }
  const chunk = await readChunk(ctx, name, path, from);
  const etag = `"${chunk.id}:${from}:${chunk.next}${chunk.end ? ':c' : ''}"`;
  const headers: Record<string, string> = {
    ...common,
    'content-type': type,
    'stream-next-offset': offsetOf(chunk.next),
    etag,
    'cache-control': CATCH_UP_CACHE,
  };
  if (chunk.upToDate) headers['stream-up-to-date'] = 'true';
  if (chunk.end) headers['stream-closed'] = 'true';
  else if (live !== null) headers['stream-cursor'] = cursor();
  if (live === null && header(req.headers, 'if-none-match') === etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res
    .writeHead(200, headers)
    .end(isJson(type) ? jsonArray(chunk.payloads) : Buffer.concat(chunk.payloads));
}

interface Chunk {
  id: number;
  payloads: Buffer[];
  next: number;
  upToDate: boolean;
  end: boolean;
}

/** A read from `from` as the stream is now (a fork's inherited records included). */
async function readChunk(
  ctx: ReadContext,
  name: string,
  path: string,
  from: number,
): Promise<Chunk> {
  const view = await ctx.registry.find(name, path, false);
  const read = await readLogical(ctx.registry, view, from, view.tail, ctx.maxChunkBytes);
  return {
    id: view.info.id,
    payloads: read.payloads,
    next: read.next,
    upToDate: read.next >= view.tail,
    end: view.info.closed && read.next >= view.tail,
  };
}

/** SSE (PROTOCOL.md 5.8): data and control events until the stream ends or `sseMaxMs`. */
async function sse(
  ctx: ReadContext,
  _req: IncomingMessage,
  res: ServerResponse,
  name: string,
  path: string,
  start: number | 'now',
  type: string,
  cursor: () => string,
  common: Record<string, string>,
): Promise<void> {
  ctx.waiters.reserve();
  const text = isText(type);
  const headers: Record<string, string> = {
    ...common,
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
  };
  if (!text) headers['stream-sse-data-encoding'] = 'base64';
  res.writeHead(200, headers);
  res.flushHeaders();
  const ac = new AbortController();
  const gone = () => ac.abort();
  res.on('close', gone);
  const stop = ctx.now() + ctx.sseMaxMs;
  let from = start === 'now' ? (ctx.registry.view(name)?.tail ?? 0) : start;
  let first = true;
  try {
    while (!ac.signal.aborted) {
      let chunk: Chunk;
      try {
        chunk = await readChunk(ctx, name, path, from);
      } catch {
        break; // deleted meanwhile: the stream ends; a reconnect gets its 404
      }
      if (chunk.payloads.length > 0) {
        res.write(dataEvent(chunk.payloads, type, text));
      }
      if (chunk.payloads.length > 0 || first || chunk.end) {
        const control: Record<string, unknown> = { streamNextOffset: offsetOf(chunk.next) };
        if (chunk.end) control.streamClosed = true;
        else control.streamCursor = cursor();
        if (chunk.upToDate) control.upToDate = true;
        res.write(`event: control\ndata:${JSON.stringify(control)}\n\n`);
      }
      first = false;
      from = chunk.next;
      if (chunk.end) break;
      if (chunk.upToDate) {
        const left = stop - ctx.now();
        // A wait that ends without a change (time is up, the client left, the server
        // drains) ends the response: the client reconnects from the last control event.
        if (left <= 0 || !(await ctx.waiters.wait(name, left, ac.signal))) break;
      }
    }
  } finally {
    res.off('close', gone);
    res.end();
  }
}

function dataEvent(payloads: Buffer[], type: string, text: boolean): string {
  const bytes = isJson(type) ? jsonArray(payloads) : Buffer.concat(payloads);
  const body = text ? bytes.toString('utf8') : bytes.toString('base64');
  const lines = body.split(/\r\n|\r|\n/);
  // A reader drops one space after "data:", so only a line that starts with one gets one.
  return `event: data\n${lines.map((l) => `data:${l.startsWith(' ') ? ' ' : ''}${l}`).join('\n')}\n\n`;
}
