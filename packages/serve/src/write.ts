import type { IncomingMessage } from 'node:http';
import {
  type AppendResult,
  isStreamError,
  type ProducerStamp,
  StreamErrorCode,
} from '@walnut/streams';
import { readBody } from './body.js';
import { badRequest, fromStreamError, HttpError } from './errors.js';
import { closedHeader, header, isJson, mediaType, strictInteger } from './headers.js';
import { jsonMessages } from './json.js';
import { formatToken } from './offsets.js';
import type { Registry, View } from './registry.js';

export interface Reply {
  status: number;
  headers: Record<string, string>;
}

export interface WriteContext {
  readonly registry: Registry;
  /** The URL path streams live under (fork sources are named by their path). */
  readonly prefix: string;
  readonly maxBodyBytes: number;
  /** Wakes the live readers of a stream. */
  readonly notify: (name: string) => void;
}

/** The producer stamp of a request: all three headers or none (PROTOCOL.md 5.2.1). */
function producerOf(req: IncomingMessage): ProducerStamp | undefined {
  const id = header(req.headers, 'producer-id');
  const epoch = header(req.headers, 'producer-epoch');
  const seq = header(req.headers, 'producer-seq');
  const given = [id, epoch, seq].filter((v) => v !== undefined).length;
  if (given === 0) return undefined;
  if (given !== 3) {
    throw badRequest('Producer-Id, Producer-Epoch and Producer-Seq go together: send all three');
  }
  if (id === '') throw badRequest('Producer-Id must not be empty');
  return {
    producerId: id!,
    epoch: strictInteger('Producer-Epoch', epoch!),
    seq: strictInteger('Producer-Seq', seq!),
  };
}

/** POST: append, close, or both at once (PROTOCOL.md 5.2, 5.3). */
export async function append(
  ctx: WriteContext,
  req: IncomingMessage,
  name: string,
  path: string,
): Promise<Reply> {
  const close = closedHeader(header(req.headers, 'stream-closed'));
  const producer = producerOf(req);
  const info = await ctx.registry.find(name, path, false);
  let wrote = false;
  try {
    const done = await appendTo(ctx, req, info, path, close, producer);
    wrote = done.wrote;
    return done.reply;
  } finally {
    // An append record carries its time: a touch record besides it would be one more write.
    ctx.registry.used(info, wrote);
  }
}

/** A POST's answer; `wrote`: it wrote an append record (not only a close, or nothing). */
interface Appended {
  reply: Reply;
  wrote: boolean;
}

async function appendTo(
  ctx: WriteContext,
  req: IncomingMessage,
  info: View,
  path: string,
  close: boolean,
  producer: ProducerStamp | undefined,
): Promise<Appended> {
  const { registry } = ctx;
  const { streams } = registry;
  const { name } = info;
  const streamSeq = header(req.headers, 'stream-seq');
  const body = await readBody(req, ctx.maxBodyBytes);

  if (body.length === 0) {
    if (!close)
      throw badRequest('an append needs a body (only a close, Stream-Closed: true, may be empty)');
    try {
      await streams.close(name);
      ctx.notify(name);
      const headers = closedReply(registry.view(name)!);
      if (producer !== undefined) {
        headers['producer-epoch'] = String(producer.epoch);
        headers['producer-seq'] = String(producer.seq);
      }
      return { reply: { status: 204, headers }, wrote: false };
    } catch (error) {
      throw fromStreamError(error, path);
    }
  }
  if (info.info.closed && producer === undefined) throw closedConflict(info, path);
  const given = mediaType(header(req.headers, 'content-type'));
  const type = mediaType(info.contentType);
  if (given === undefined) throw badRequest('an append with a body needs a Content-Type');
  if (given !== type) {
    throw new HttpError(409, `stream ${path} holds ${type}, not ${given}; append ${type}`);
  }
  const payloads = isJson(type) ? jsonMessages(body, false) : [body];

  let result: AppendResult;
  try {
    // The close and the Stream-Seq go in the append's own record: a crash keeps all or none.
    result = await streams.append(name, payloads, { producer, streamSeq, close });
  } catch (error) {
    throw producerRefusal(error, producer, path, info.base) ?? fromStreamError(error, path);
  }
  ctx.notify(name);
  const after = registry.view(name)!;
  const headers: Record<string, string> = {
    // This append's tail: the stream's may be past it by now, with other appends behind it.
    'stream-next-offset': formatToken(info.base + result.tail),
  };
  if (after.info.closed) headers['stream-closed'] = 'true';
  const wrote = !result.duplicate;
  if (producer === undefined) return { reply: { status: 204, headers }, wrote };
  headers['producer-epoch'] = String(producer.epoch);
  headers['producer-seq'] = String(result.producerSeq);
  return { reply: { status: result.duplicate ? 204 : 200, headers }, wrote };
}

function closedReply(info: View): Record<string, string> {
  return { 'stream-next-offset': formatToken(info.tail), 'stream-closed': 'true' };
}

function closedConflict(info: View, path: string): HttpError {
  return new HttpError(
    409,
    `stream ${path} is closed and takes no more appends`,
    closedReply(info),
  );
}

/** The protocol's answers to the core's producer refusals (PROTOCOL.md 5.2.1). */
function producerRefusal(
  error: unknown,
  producer: ProducerStamp | undefined,
  path: string,
  base: number,
): HttpError | undefined {
  if (!isStreamError(error)) return undefined;
  const details = error.details as Record<string, number | undefined>;
  switch (error.code) {
    case StreamErrorCode.SEQ_CONFLICT: {
      const { streamSeq, lastStreamSeq } = error.details as Record<string, string>;
      return new HttpError(
        409,
        `Stream-Seq "${streamSeq}" is not above the last one, "${lastStreamSeq}"; sequence numbers must increase`,
      );
    }
    case StreamErrorCode.CLOSED:
      return new HttpError(409, `stream ${path} is closed and takes no more appends`, {
        'stream-next-offset': formatToken(base + (details.tail ?? 0)),
        'stream-closed': 'true',
      });
    case StreamErrorCode.PRODUCER_FENCED:
      return new HttpError(
        403,
        `producer epoch ${producer?.epoch} is stale: the stream is at epoch ${details.currentEpoch}; stop this producer, or claim a higher epoch from seq 0`,
        { 'producer-epoch': String(details.currentEpoch) },
      );
    case StreamErrorCode.SEQUENCE_GAP:
      if (details.expectedSeq === 0 && producer !== undefined && producer.epoch > 0) {
        return badRequest(`a producer's new epoch starts at Producer-Seq 0, not ${producer.seq}`);
      }
      return new HttpError(
        409,
        `Producer-Seq ${producer?.seq} skips ahead: the next one is ${details.expectedSeq}; resend from there in order`,
        {
          'producer-expected-seq': String(details.expectedSeq),
          'producer-received-seq': String(producer?.seq),
        },
      );
    case StreamErrorCode.DUPLICATE_TOO_OLD:
      // Already in the stream: a success for the producer, whose original offsets are gone.
      return new HttpError(204, '', {
        'producer-epoch': String(producer?.epoch),
        'producer-seq': String(details.lastSeq),
      });
    default:
      return undefined;
  }
}

/** DELETE (PROTOCOL.md 5.4). */
export async function remove(ctx: WriteContext, name: string, path: string): Promise<Reply> {
  await ctx.registry.find(name, path, false);
  try {
    await ctx.registry.drop(name);
  } catch (error) {
    throw fromStreamError(error, path);
  }
  ctx.notify(name);
  return { status: 204, headers: {} };
}
