import type { KV } from '@nats-io/kv';
import { WalError, WalErrorCode } from '@walnut/codec';
import { type ClusterLink, lastLsnInStream } from './link.js';
import { crcHex, messageCrc } from './message.js';

/**
 * The primary's high-water mark (decision 0910): the last message it saw stored, kept in
 * the lease bucket under `mark` so that a reader can tell a stream served short (a copy
 * that fell behind and was reported current) from a stream that holds everything.
 */
export interface Mark {
  readonly epoch: number;
  /** The last LSN of the marked message. */
  readonly lsn: bigint;
  /** Its stream sequence. */
  readonly seq: number;
  /** Its CRC32C (the content's name, as in its message id). */
  readonly crc: number;
  /**
   * The running checksum of the epoch's messages up to `seq`, from its marker at sequence
   * `from` (running-checksum.ts); absent when the primary lost track of it.
   */
  readonly run?: { readonly from: number; readonly value: number };
}

const KEY = 'mark';
/** How often a primary writes its mark, at most: one KV write a second, not one a message. */
export const MARK_MS = 1_000;

export async function readMark(kv: KV): Promise<Mark | null> {
  const entry = await kv.get(KEY);
  if (entry === null || entry.operation !== 'PUT' || entry.value.length === 0) return null;
  try {
    const raw = JSON.parse(Buffer.from(entry.value).toString('utf8'));
    return {
      epoch: raw.epoch,
      lsn: BigInt(raw.lsn),
      seq: raw.seq,
      crc: Number.parseInt(raw.crc, 16),
      ...(raw.run === undefined
        ? {}
        : { run: { from: raw.run.from, value: Number.parseInt(raw.run.value, 16) } }),
    };
  } catch (error) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `the high-water mark in the key-value store is not Walnut's (${(error as Error).message}); check that nothing else writes the bucket`,
    );
  }
}

export async function writeMark(kv: KV, mark: Mark): Promise<void> {
  const value = {
    epoch: mark.epoch,
    lsn: mark.lsn.toString(),
    seq: mark.seq,
    crc: crcHex(mark.crc),
    ...(mark.run === undefined
      ? {}
      : { run: { from: mark.run.from, value: crcHex(mark.run.value) } }),
  };
  await kv.put(KEY, JSON.stringify(value));
}

/**
 * What is wrong with the messages a follower applied, measured against the mark: null when
 * their running checksum up to the mark's sequence is the mark's, or is not known to the
 * follower (`runAt` gives it for an epoch, its marker's sequence and a sequence).
 */
export function checkApplied(
  mark: Mark,
  runAt: (epoch: number, from: number, seq: number) => number | null,
  stream: string,
): WalError | null {
  if (mark.run === undefined) return null;
  const applied = runAt(mark.epoch, mark.run.from, mark.seq);
  if (applied === null || applied === mark.run.value) return null;
  return new WalError(
    WalErrorCode.DIVERGED,
    `the messages this replica applied from '${stream}' between sequences ${mark.run.from} and ${mark.seq} are not the ones its primary saw stored there (running checksum ${crcHex(applied)} against ${crcHex(mark.run.value)}): the server that served them holds another history, and so does this replica's log now; start this replica in an empty directory, and have the stream re-seeded (or its leader stepped down) first`,
    { details: { from: mark.run.from, markSeq: mark.seq, markLsn: mark.lsn } },
  );
}

/**
 * What is wrong with the stream as its leader serves it now, measured against the
 * mark its primary left: shorter than the mark (WAL_BAD_STATE), or another content at
 * the mark's sequence (WAL_DIVERGED); `wrong` is null when it holds the mark. `mark` is
 * the mark checked against: null when there is none, or when a newer epoch owns the
 * stream (a re-seed or a promotion starts a history the mark does not describe).
 */
export async function checkMark(
  link: ClusterLink,
): Promise<{ mark: Mark | null; wrong: WalError | null }> {
  // The mark first, the stream after: the mark only ever names a message already stored,
  // so a stream read later must hold it. Read the other way round, a mark written between
  // the two reads looks like a stream gone short.
  const mark = await readMark(link.kv);
  if (mark === null) return { mark, wrong: null };
  const position = await link.lastPosition();
  if (mark.epoch < (position.header?.epoch ?? 0)) return { mark: null, wrong: null };
  const inStream = lastLsnInStream(position);
  const where = `'${link.names.stream}'`;
  if (position.seq < mark.seq || inStream < mark.lsn) {
    const wrong = new WalError(
      WalErrorCode.BAD_STATE,
      `the stream ${where} as served ends at sequence ${position.seq} (LSN ${inStream}), short of what its primary saw stored (sequence ${mark.seq}, LSN ${mark.lsn}, epoch ${mark.epoch}): the server answering holds a copy that fell behind. Do not treat this replica as caught up; the primary re-seeds the stream once it notices — if none runs, open it (or promote the most advanced follower), or have the lagging server catch up (restart it, or step its stream leader down)`,
      {
        details: {
          streamSeq: position.seq,
          streamLsn: inStream,
          markSeq: mark.seq,
          markLsn: mark.lsn,
        },
      },
    );
    return { mark, wrong };
  }
  const data = await link.messageAt(mark.seq);
  if (data === null || messageCrc(data) === mark.crc) return { mark, wrong: null };
  const wrong = new WalError(
    WalErrorCode.DIVERGED,
    `the stream ${where} holds another message at sequence ${mark.seq} than its primary saw stored there (CRC ${messageCrc(data).toString(16)} against ${mark.crc.toString(16)}): the server answering holds another history; do not follow it — have the primary re-seed the stream, or step the stream leader down`,
    { details: { markSeq: mark.seq, markLsn: mark.lsn } },
  );
  return { mark, wrong };
}

/** Writes the primary's mark at most every MARK_MS, when it moved; a failed write waits for the next. */
export class MarkKeeper {
  private written: Mark | null = null;
  private readonly timer: NodeJS.Timeout;
  private writing: Promise<void> | null = null;

  constructor(
    private readonly kv: () => KV,
    private readonly current: () => Mark | null,
  ) {
    this.timer = setInterval(() => this.tick(), MARK_MS);
    this.timer.unref();
  }

  private tick(): void {
    const mark = this.current();
    if (this.writing !== null || mark === null) return;
    if (
      this.written !== null &&
      this.written.seq === mark.seq &&
      this.written.epoch === mark.epoch
    ) {
      return;
    }
    this.writing = writeMark(this.kv(), mark)
      .then(() => {
        this.written = mark;
      })
      .catch(() => undefined)
      .finally(() => {
        this.writing = null;
      });
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.writing;
  }
}
