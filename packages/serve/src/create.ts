import type { IncomingMessage } from 'node:http';
import type { StreamInfo } from '@walnut/streams';
import { readBody } from './body.js';
import { badRequest, fromStreamError, HttpError } from './errors.js';
import {
  closedHeader,
  header,
  isJson,
  mediaType,
  normalType,
  rfc3339,
  strictInteger,
} from './headers.js';
import { jsonMessages } from './json.js';
import { readLogical } from './logical.js';
import { formatToken, parseToken } from './offsets.js';
import { checkName, META, type View } from './registry.js';
import type { Reply, WriteContext } from './write.js';

const DEFAULT_TYPE = 'application/octet-stream';

/** PUT: create a stream or a fork, or confirm one made with the same request (PROTOCOL.md 5.1, 4.2). */
export async function create(
  ctx: WriteContext,
  req: IncomingMessage,
  name: string,
  path: string,
): Promise<Reply> {
  const h = req.headers;
  const ttl = header(h, 'stream-ttl');
  const expires = header(h, 'stream-expires-at');
  if (ttl !== undefined && expires !== undefined) {
    throw badRequest('give Stream-TTL or Stream-Expires-At, not both');
  }
  const metadata: Record<string, string> = {};
  if (ttl !== undefined) metadata[META.ttl] = String(strictInteger('Stream-TTL', ttl));
  if (expires !== undefined) {
    metadata[META.expiresAt] = String(rfc3339('Stream-Expires-At', expires));
  }
  const given = header(h, 'content-type');
  let contentType = given === undefined ? undefined : normalType(given) || undefined;
  const close = closedHeader(header(h, 'stream-closed'));
  const body = await readBody(req, ctx.maxBodyBytes);

  const { registry } = ctx;
  // A stream that ran out is deleted before its name is created again; a soft-deleted
  // one keeps its name for as long as its forks live.
  try {
    await registry.find(name, path, false);
  } catch (error) {
    if (error instanceof HttpError && error.status === 410) {
      throw new HttpError(
        409,
        `stream ${path} was deleted and its forks still read it; use another path`,
      );
    }
  }
  const fork = await forkOf(ctx, req, contentType, metadata);
  contentType = fork?.contentType ?? contentType ?? DEFAULT_TYPE;
  const payloads = [
    ...(fork?.prefix ?? []),
    ...(body.length === 0
      ? []
      : isJson(mediaType(contentType))
        ? jsonMessages(body, true)
        : [body]),
  ];

  let made: { created: boolean; info: StreamInfo };
  try {
    // The first messages and the close go in the create's own record: a crash keeps all or none.
    made = await registry.create(
      name,
      { contentType, ...(Object.keys(metadata).length > 0 ? { metadata } : {}) },
      { payloads: payloads.length > 0 ? payloads : undefined, close },
    );
  } catch (error) {
    throw fromStreamError(error, path);
  }
  if (!made.created) {
    const view = registry.view(name)!;
    if (made.info.closed !== close) {
      throw new HttpError(
        409,
        `stream ${path} exists and is ${made.info.closed ? 'closed' : 'open'}; PUT ${made.info.closed ? 'with' : 'without'} Stream-Closed: true confirms it`,
      );
    }
    return { status: 200, headers: describe(view) };
  }
  registry.stateOf(made.info);
  ctx.notify(name);
  const host = header(h, 'host') ?? 'localhost';
  return {
    status: 201,
    headers: { ...describe(registry.view(name)!), location: `http://${host}${path}` },
  };
}

export function describe(view: View): Record<string, string> {
  const out: Record<string, string> = {
    'content-type': view.contentType,
    'stream-next-offset': formatToken(view.tail),
  };
  if (view.info.closed) out['stream-closed'] = 'true';
  return out;
}

interface Fork {
  contentType: string;
  /** A binary sub-offset's part of the source record the fork starts inside. */
  prefix: Buffer[];
}

/**
 * A fork's source and divergence point from its request headers, written into `metadata`
 * (so a repeated PUT with other fork headers is a 409). Undefined for a plain create.
 */
async function forkOf(
  ctx: WriteContext,
  req: IncomingMessage,
  contentType: string | undefined,
  metadata: Record<string, string>,
): Promise<Fork | undefined> {
  const from = header(req.headers, 'stream-forked-from');
  const offsetHeader = header(req.headers, 'stream-fork-offset');
  const subHeader = header(req.headers, 'stream-fork-sub-offset');
  if (from === undefined) {
    if (offsetHeader !== undefined || subHeader !== undefined) {
      throw badRequest('Stream-Fork-Offset and Stream-Fork-Sub-Offset need Stream-Forked-From');
    }
    return undefined;
  }
  const sub = subHeader === undefined ? 0 : strictInteger('Stream-Fork-Sub-Offset', subHeader);
  if (sub > 0 && offsetHeader === undefined) {
    throw badRequest('Stream-Fork-Sub-Offset needs the Stream-Fork-Offset it counts from');
  }
  const sourcePath = from.split('?')[0]!;
  if (!sourcePath.startsWith(ctx.prefix)) {
    throw new HttpError(404, `no stream at ${sourcePath}: sources are under ${ctx.prefix}`);
  }
  const sourceName = decodeURIComponent(sourcePath.slice(ctx.prefix.length));
  checkName(sourceName);
  let source: View;
  try {
    source = await ctx.registry.find(sourceName, sourcePath, false);
  } catch (error) {
    if (error instanceof HttpError && error.status === 410) {
      throw new HttpError(409, `the source ${sourcePath} was deleted; fork another stream`);
    }
    throw error;
  }
  if (contentType !== undefined && contentType !== source.contentType) {
    throw new HttpError(
      409,
      `the source holds ${source.contentType}, not ${contentType}; a fork keeps its source's type`,
    );
  }
  const anchor =
    offsetHeader === undefined ? source.tail : parseToken('Stream-Fork-Offset', offsetHeader);
  if (anchor > source.tail) {
    throw badRequest(`Stream-Fork-Offset is past the source's tail (${formatToken(source.tail)})`);
  }
  let base = anchor;
  const prefix: Buffer[] = [];
  if (sub > 0) {
    if (isJson(mediaType(source.contentType))) {
      base = anchor + sub;
      if (base > source.tail) {
        throw badRequest(`Stream-Fork-Sub-Offset ${sub} is past the source's last message`);
      }
    } else {
      const record =
        anchor < source.tail
          ? (await readLogical(ctx.registry, source, anchor, anchor + 1, 1)).payloads[0]
          : undefined;
      if (record === undefined || sub > record.length) {
        throw badRequest(`Stream-Fork-Sub-Offset ${sub} is past the append at the fork offset`);
      }
      prefix.push(Buffer.from(record.subarray(0, sub)));
    }
  }
  metadata[META.source] = sourceName;
  metadata[META.base] = String(base);
  metadata[META.forkOffset] = String(anchor);
  metadata[META.forkSub] = String(sub);
  if (metadata[META.ttl] === undefined && metadata[META.expiresAt] === undefined) {
    if (source.ttl !== undefined) metadata[META.ttl] = String(source.ttl);
    else if (source.expiresAt !== undefined) metadata[META.expiresAt] = String(source.expiresAt);
  }
  return { contentType: source.contentType, prefix };
}
