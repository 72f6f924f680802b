import { WalError, WalErrorCode } from '@walnut/codec';
import { isStreamError, type StreamInfo, type StreamRecord, Streams } from '@walnut/streams';
import { ExitCode } from '../exit-codes.js';
import { formatTable, previewBytes } from '../format.js';
import { printJson, toJson } from '../json.js';
import { requireLogDirectory } from '../logdir/directory.js';
import { type Output, printLine } from '../output.js';

export interface StreamsOptions {
  /** Dump this stream's records instead of listing the streams. */
  readonly name?: string;
  /** First offset to print (default 0). */
  readonly from?: number;
  /** At most this many records (default: all). */
  readonly limit?: number;
  readonly json?: boolean;
}

// Records asked of the log per read while dumping: bounds memory, not what is printed.
const DUMP_PAGE = 1000;

/**
 * `walnut streams <dir> [name]`: the streams of a @walnut/streams log, or one stream's
 * records. It opens the log read-only, so it works beside a running writer and sees what
 * that writer had acknowledged when it opened.
 */
export async function streamsCommand(
  dir: string,
  options: StreamsOptions,
  out: Output,
): Promise<number> {
  await requireLogDirectory(dir);
  const streams = await openStreams(dir);
  try {
    if (options.name !== undefined)
      return await dumpStream(dir, streams, options.name, options, out);
    const rows = streams.list().map((name) => streams.metadata(name));
    if (options.json) {
      printJson(out.stdout, { dir, streams: rows.map(streamJson) });
      return ExitCode.OK;
    }
    if (rows.length === 0) {
      printLine(out.stdout, `No streams in ${dir}.`);
      return ExitCode.OK;
    }
    printLine(
      out.stdout,
      formatTable(
        ['stream', 'tail', 'bytes', 'expires', 'closed', 'producers'],
        rows.map((s) => [
          s.name,
          String(s.tail),
          String(s.bytes),
          s.expiresAt === undefined ? 'never' : new Date(s.expiresAt).toISOString(),
          s.closed ? 'yes' : 'no',
          String(s.producers),
        ]),
      ),
    );
    return ExitCode.OK;
  } finally {
    await streams.shutdown();
  }
}

async function openStreams(dir: string): Promise<Streams> {
  try {
    return await Streams.open(dir, { readOnly: true });
  } catch (error) {
    if (error instanceof WalError && error.code === WalErrorCode.NOT_A_LOG) {
      throw new WalError(
        WalErrorCode.NOT_A_LOG,
        `${dir} is a Walnut log but not a streams log (${error.message}); \`walnut dump ${dir}\` prints its records`,
        { details: error.details, cause: error },
      );
    }
    throw error;
  }
}

async function dumpStream(
  dir: string,
  streams: Streams,
  name: string,
  options: StreamsOptions,
  out: Output,
): Promise<number> {
  let next = options.from ?? 0;
  let left = options.limit ?? Number.POSITIVE_INFINITY;
  let printed = 0;
  try {
    while (left > 0) {
      const read = await streams.read(name, next, { maxRecords: Math.min(DUMP_PAGE, left) });
      for (const record of read.records) {
        printLine(out.stdout, options.json ? recordJson(record) : recordLine(record));
      }
      printed += read.records.length;
      left -= read.records.length;
      next = read.next;
      if (read.records.length === 0 || next >= read.tail) break;
    }
  } catch (error) {
    if (isStreamError(error)) {
      throw new WalError(
        error.code,
        `${error.message}; \`walnut streams ${dir}\` lists the streams`,
        { details: error.details, cause: error },
      );
    }
    throw error;
  }
  if (!options.json && printed === 0) printLine(out.stderr, `no records from offset ${next}`);
  return ExitCode.OK;
}

function streamJson(s: StreamInfo) {
  return {
    name: s.name,
    tail: s.tail,
    bytes: s.bytes,
    createdAt: s.createdAt,
    expiresAt: s.expiresAt ?? null,
    closed: s.closed,
    producers: s.producers,
  };
}

/** One record as a line of text, like `walnut dump`'s: offset, size and a payload preview. */
function recordLine(record: StreamRecord): string {
  return [
    `offset ${record.offset}`,
    `${record.payload.length} B`,
    previewBytes(record.payload),
  ].join('  ');
}

/** One record as a JSON line, like `walnut dump --json`'s: payload in base64, `text` when UTF-8. */
function recordJson(record: StreamRecord): string {
  const { payload } = record;
  const text = payload.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(payload);
  return toJson({
    offset: record.offset,
    size: payload.length,
    payload: payload.toString('base64'),
    ...(isText ? { text } : {}),
  });
}
