import { DeliverPolicy } from '@nats-io/jetstream';
import {
  decodeFileHeader,
  FrameCipher,
  FrameScanner,
  invalidArgument,
  type KeyRing,
  WalError,
  WalErrorCode,
  type WalRecord,
} from '@walnut/codec';
import { Batch, Wal, type WalOptions } from '@walnut/wal';
import { type ClusterLink, describe } from '../cluster/link.js';
import { decodeHeader, decodeMessage, MessageKind } from '../cluster/message.js';
import { DEFAULT_MAX_PAYLOAD, recordSizeCap } from '../cluster/record-limit.js';
import { listSegmentObjects, type SegmentObject } from '../cluster/uploader.js';
import { Applier, GapError } from './applier.js';
import { recordInput, sameRecord } from './shipped-records.js';

/**
 * Opens a primary's local log: durability 'sync' always, and records no larger than
 * `recordSizeCap` — a larger `maxRecordSize` is refused rather than lowered behind the
 * caller's back.
 */
export async function openLocalWal(
  dir: string,
  options: WalOptions,
  maxPayload: number | undefined,
): Promise<Wal> {
  const cap = recordSizeCap(maxPayload);
  if (typeof options.maxRecordSize === 'number' && options.maxRecordSize > cap) {
    invalidArgument(
      `options.wal.maxRecordSize is ${options.maxRecordSize}, but a replicated record must fit one stream message: at most ${cap} bytes on this cluster (its servers' max_payload, ${maxPayload ?? DEFAULT_MAX_PAYLOAD}, less the message's framing); use wal.maxRecordSize ≤ ${cap}, or raise max_payload in the servers' config`,
    );
  }
  return Wal.open(dir)
    .options({ ...options, durability: 'sync', maxRecordSize: options.maxRecordSize ?? cap })
    .build();
}

/**
 * Opens a primary's or a follower's local log with `openLog` (given the server's largest
 * message) and sets the role up on it with `setUp`. If either fails, the log and `link`
 * are closed before the error goes on: a refused open leaves nothing open.
 */
export async function openOnLink<T>(
  link: ClusterLink,
  openLog: (maxPayload: number | undefined) => Promise<Wal>,
  setUp: (wal: Wal) => Promise<T>,
): Promise<T> {
  let wal: Wal | undefined;
  try {
    wal = await openLog(link.nc.info?.max_payload);
    return await setUp(wal);
  } catch (error) {
    await wal?.close().catch(() => undefined);
    await link.close();
    if (error instanceof WalError) throw error;
    // A cluster that answered the connect can still refuse the set-up's reads (JetStream
    // "temporarily unavailable" while it elects a leader or recovers its stores).
    throw new WalError(
      WalErrorCode.IO,
      `the NATS cluster did not answer while the log was set up on stream '${link.names.stream}' (${describe(error)}); check that its servers run with JetStream enabled, then open again`,
      { cause: error },
    );
  }
}

/** A follower's log: records up to a whole message per batch. */
export async function openReplicaWal(
  dir: string,
  options: WalOptions,
  maxPayload: number | undefined,
): Promise<Wal> {
  const payload = maxPayload ?? DEFAULT_MAX_PAYLOAD;
  return Wal.open(dir)
    .options({
      ...options,
      durability: 'sync',
      maxRecordSize: Math.max(options.maxRecordSize ?? 0, payload),
    })
    .build();
}

/**
 * Applies the stream's messages from `fromSeq` to `toSeq` (inclusive) through an ordered
 * consumer. Resolves once they were handed to the log (call `applier.drain()` for durability).
 */
async function applyRange(
  link: ClusterLink,
  applier: Applier,
  fromSeq: number,
  toSeq: number,
  signal?: AbortSignal,
): Promise<void> {
  if (fromSeq > toSeq) return;
  const consumer = await link.js.consumers.get(link.names.stream, {
    deliver_policy: DeliverPolicy.StartSequence,
    opt_start_seq: fromSeq,
  });
  const messages = await consumer.consume({ max_messages: 256 });
  const stop = () => messages.stop();
  signal?.addEventListener('abort', stop, { once: true });
  if (signal?.aborted) stop();
  // A consumer can wait forever on a server whose copy is behind (2.9.10 placed one on a
  // lagging replica after a promotion and it never delivered): idle too long, it ends.
  let arrived = performance.now();
  let stalled = false;
  const watchdog = setInterval(() => {
    if (performance.now() - arrived < CONSUMER_IDLE_MS) return;
    stalled = true;
    stop();
  }, CONSUMER_IDLE_MS / 4);
  try {
    for await (const m of messages) {
      arrived = performance.now();
      await applier.apply(m.data, m.seq);
      if (m.seq >= toSeq || signal?.aborted) return;
    }
  } finally {
    clearInterval(watchdog);
    signal?.removeEventListener('abort', stop);
    messages.stop();
  }
  if (stalled) throw new ConsumerStalled(applier.lastSeq, toSeq);
}

/** How long a catch-up consumer may deliver nothing before it is given up for another. */
const CONSUMER_IDLE_MS = 5_000;
/** Catch-up consumers tried, one after another, before giving up. */
const CATCH_UP_ATTEMPTS = 6;

class ConsumerStalled extends Error {
  constructor(
    readonly at: number,
    readonly to: number,
  ) {
    super(
      `a consumer of the stream delivered nothing for ${CONSUMER_IDLE_MS} ms after sequence ${at} (of ${to})`,
    );
  }
}

/**
 * Brings `wal` level with the stream as it is now: restores from the object store what
 * the stream no longer holds, then applies every message after the log's last LSN. The
 * log is durable up to the stream's last LSN when this resolves.
 */
export async function catchUp(link: ClusterLink, wal: Wal, keyRing?: KeyRing): Promise<Applier> {
  const applier = new Applier(wal, link.names.stream);
  for (let attempt = 0; attempt < CATCH_UP_ATTEMPTS; attempt++) {
    const { last } = await link.bounds();
    const next = applier.appended + 1n;
    const found = await link.findSequence(next);
    if (found.seq === null) break;
    if (!found.reachesBack) await restoreFromObjects(link, wal, applier, keyRing);
    const from = (await link.findSequence(applier.appended + 1n)).seq;
    if (from === null) break;
    try {
      await applyRange(link, applier, from, last);
      break;
    } catch (error) {
      if (error instanceof ConsumerStalled && attempt + 1 >= CATCH_UP_ATTEMPTS) {
        throw new WalError(
          WalErrorCode.IO,
          `catching up with the stream '${link.names.stream}' failed: ${error.message}, ${CATCH_UP_ATTEMPTS} times (a server serving it is behind); retry once the cluster's servers are current`,
          { cause: error },
        );
      }
      // Trimmed between the search and the read (restore and go again), or a consumer
      // that delivered nothing (a new one may be served by another server).
      if (!(error instanceof GapError) && !(error instanceof ConsumerStalled)) throw error;
    }
  }
  await applier.drain();
  return applier;
}

/**
 * Checks that the local log agrees with the stream up to `upTo` (the last LSN both should
 * hold): the message holding `upTo` must have the same records, byte for byte, as the log.
 * Cheap (one message), and catches a directory that belongs to another history.
 */
export async function verifyAgainstStream(
  link: ClusterLink,
  wal: Wal,
  upTo: bigint,
  keyRing?: KeyRing,
): Promise<void> {
  if (upTo < 1n) return;
  const found = await link.findSequence(upTo);
  if (found.seq === null) return;
  // Trimmed from the stream: the sealed segment holding it in the object store decides.
  if (!found.reachesBack) return verifyAgainstObjects(link, wal, upTo, found.seq, keyRing);
  const data = await link.messageAt(found.seq);
  if (data === null) return;
  const message = decodeMessage(data, `${link.names.stream}#${found.seq}`);
  if (message.kind !== MessageKind.RECORDS || message.firstLsn > upTo) return;
  const expected = message.records.filter((r) => r.lsn <= upTo);
  let i = 0;
  for await (const record of wal.iterator(message.firstLsn)) {
    if (i >= expected.length) break;
    if (!sameRecord(record, expected[i]!)) {
      throw new WalError(
        WalErrorCode.DIVERGED,
        `the local log's LSN ${record.lsn} differs from the stream's ('${link.names.stream}' sequence ${found.seq}): this directory holds another history than the stream; start a replica in an empty directory`,
        { details: { lsn: record.lsn, seq: found.seq } },
      );
    }
    i++;
  }
  if (i < expected.length) {
    throw new WalError(
      WalErrorCode.DIVERGED,
      `the local log ends before LSN ${upTo}, which the stream holds; start a replica in an empty directory`,
    );
  }
}

const RESTORE_BATCH_BYTES = 512 * 1024;
/** Records before `upTo` compared with the object store's copy (besides `upTo` itself). */
const CHECK_WINDOW = 255n;

/**
 * Checks the log's records up to `upTo` (the last `CHECK_WINDOW` of them) against the
 * sealed segment in the object store that holds `upTo`, when the stream no longer reaches
 * back there (`streamFirstSeq` is its first message). Neither holding `upTo` is
 * WAL_BAD_STATE, not WAL_DIVERGED: nothing shows the log disagrees with the history, it
 * only cannot be checked — and usually cannot be followed either (`notHeld`).
 */
async function verifyAgainstObjects(
  link: ClusterLink,
  wal: Wal,
  upTo: bigint,
  streamFirstSeq: number,
  keyRing: KeyRing | undefined,
): Promise<void> {
  const objects = await listSegmentObjects(link);
  const object = objects.find((o) => o.firstLsn <= upTo && upTo <= o.lastLsn);
  const scanner = object === undefined ? null : await openObject(link, object.name, keyRing);
  if (scanner === null) throw await notHeld(link, upTo, streamFirstSeq, objects);
  const from = upTo - CHECK_WINDOW > object!.firstLsn ? upTo - CHECK_WINDOW : object!.firstLsn;
  const expected: WalRecord[] = [];
  for (let r = scanner.nextRecord(); r !== null && r.lsn <= upTo; r = scanner.nextRecord()) {
    if (r.lsn >= from) expected.push(r);
  }
  let i = 0;
  for await (const record of wal.iterator(from)) {
    if (record.lsn > upTo) break;
    const other = expected[i++];
    if (other === undefined || !sameRecord(record, other)) {
      throw new WalError(
        WalErrorCode.DIVERGED,
        `the local log's LSN ${record.lsn} differs from the object store's copy (${object!.name}): this directory holds another history than the stream from there on (LSNs ${record.lsn}–${wal.lastLsn}); start a replica in an empty directory`,
        { details: { from: record.lsn, to: wal.lastLsn } },
      );
    }
  }
}

/**
 * Why a log ending at `upTo` cannot go on from the cluster when neither the stream
 * (trimmed past it) nor the object store holds `upTo`. A replica that was merely behind
 * ends here, so the error says what is missing and how to get it, not that it diverged.
 */
async function notHeld(
  link: ClusterLink,
  upTo: bigint,
  streamFirstSeq: number,
  objects: readonly SegmentObject[],
): Promise<WalError> {
  const stream = link.names.stream;
  const first = await link.messageAt(streamFirstSeq);
  const streamFrom =
    first === null ? null : decodeHeader(first, `${stream}#${streamFirstSeq}`).firstLsn;
  const next = upTo + 1n;
  // Sorted by first LSN: the last object reaches furthest.
  const uploadedTo = objects.at(-1)?.lastLsn ?? 0n;
  if (streamFrom !== next && !objects.some((o) => o.firstLsn === next)) {
    const missing = streamFrom === null ? `from LSN ${next}` : `${next}–${streamFrom - 1n}`;
    return new WalError(
      WalErrorCode.BAD_STATE,
      `this replica is behind and cannot catch up: its log ends at LSN ${upTo}, the stream '${stream}' was trimmed past it${streamFrom === null ? '' : ` (it begins at LSN ${streamFrom})`}, and the object store holds sealed segments only ${uploadedTo === 0n ? 'of none' : `up to LSN ${uploadedTo}`}: LSNs ${missing} are in neither. Restore this directory from a copy (backup) of the primary's log, or start the replica in an empty directory once the object store holds them; to keep followers able to catch up, keep more in the stream (streamMaxMessages, streamMaxBytes, streamMaxAgeMs: more than a segment's worth plus what a follower may fall behind) and leave uploadSegments on`,
      { details: { lsn: upTo, needFrom: next, streamFrom, uploadedTo } },
    );
  }
  return new WalError(
    WalErrorCode.BAD_STATE,
    `the local log ends at LSN ${upTo}, which neither the stream '${stream}' (trimmed past it) nor its object store holds: it cannot be checked against the replicated history, so it is not followed from there; start the replica in an empty directory`,
    { details: { lsn: upTo } },
  );
}

/** A scanner over a segment object's records (CRCs checked, decrypted with `keyRing`). */
async function openObject(
  link: ClusterLink,
  name: string,
  keyRing: KeyRing | undefined,
): Promise<FrameScanner | null> {
  const bytes = await link.objects.getBlob(name);
  if (bytes === null) return null;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const header = decodeFileHeader(buf, `object ${name}`);
  if (header.cipher !== 'none' && keyRing === undefined) {
    throw new WalError(
      WalErrorCode.KEY_MISSING,
      `segment ${name} in the object store is encrypted; open the follower with wal.encryption set to the primary's key ring`,
    );
  }
  return new FrameScanner(buf, {
    start: header.headerLength,
    ...(header.cipher !== 'none' && keyRing
      ? { cipher: FrameCipher.forFile(keyRing, header) }
      : {}),
  });
}

/**
 * Appends, from the sealed segments in the object store, the records after the log's last
 * LSN — for a replica whose next LSN the stream already trimmed. Stops at the first
 * object that does not follow on. Segments are parsed and checked with the codec (every
 * frame's CRC) and their records appended at their LSNs: the replica writes its own files.
 */
export async function restoreFromObjects(
  link: ClusterLink,
  wal: Wal,
  applier: Applier,
  keyRing?: KeyRing,
): Promise<number> {
  const objects = await listSegmentObjects(link);
  let restored = 0;
  for (const object of objects) {
    const next = applier.appended + 1n;
    if (object.lastLsn < next) continue;
    if (object.firstLsn > next) break;
    const scanner = await openObject(link, object.name, keyRing);
    if (scanner === null) break;
    let batch = new Batch();
    let batchFirst = 0n;
    let bytesInBatch = 0;
    const flush = async () => {
      if (batch.length === 0) return;
      await wal.appendBatch(batch, { firstLsn: batchFirst });
      batch = new Batch();
      bytesInBatch = 0;
    };
    for (let record = scanner.nextRecord(); record !== null; record = scanner.nextRecord()) {
      if (record.lsn <= applier.appended) continue;
      if (record.lsn !== applier.appended + 1n) {
        throw new GapError(applier.appended + 1n, record.lsn);
      }
      if (batch.length === 0) batchFirst = record.lsn;
      batch.addRecord(recordInput(record));
      bytesInBatch += record.payload.length + (record.meta?.length ?? 0) + 32;
      applier.appended = record.lsn;
      restored++;
      if (bytesInBatch >= RESTORE_BATCH_BYTES) await flush();
    }
    await flush();
    const stop = scanner.stop;
    if (stop !== null && stop.kind !== 'eof') {
      throw new WalError(
        WalErrorCode.CORRUPT,
        `segment ${object.name} in the object store is damaged at offset ${stop.offset} (${stop.reason}); the primary uploads it again only if it still has it`,
      );
    }
  }
  await wal.sync();
  applier.durable = applier.appended;
  return restored;
}
