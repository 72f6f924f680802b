import {
  FILE_HEADER_SIZE,
  FRAME_HEADER_SIZE,
  FrameScanner,
  isWalError,
  type KeyRing,
  WalError,
  WalErrorCode,
} from '@walnut/codec';
import { type IoFd, readFully, type StorageIo } from '@walnut/storage-io';
import type { RecoveredSegment } from './recovery-report.js';
import { corruptError, readCipher } from './segment-scan.js';

// Open proves each key the log uses by decrypting one frame written under it
// (docs/decisions/0325-open-proves-each-key-id.md). Checking only that the ring holds a key
// of the right id let a wrong key in under that id, and the new segments written with it
// left a log that no ring could read whole.

/** Bytes read for a first frame: a small record's frame fits, a larger one takes a second read. */
const FIRST_READ = 4096;

const DAMAGE_ADVICE =
  "Restore the segment from a replica or backup, or open the log with recovery: 'salvage' to keep every intact record";

/**
 * For every key id the encrypted segments use and `proven` lacks, decrypts the first frame
 * of the newest segment holding a record under it: WAL_DECRYPT_FAILED when the ring's key of
 * that id is not the one that wrote it. `proven` holds the ids open already decrypted frames
 * of. One small read per key id, whatever the number of segments; an id with no record in the
 * log has nothing to be checked against.
 */
export async function proveKeys(
  io: StorageIo,
  ring: KeyRing | undefined,
  segments: readonly RecoveredSegment[],
  proven: ReadonlySet<number>,
): Promise<void> {
  const checked = new Set(proven);
  for (let i = segments.length - 1; i >= 0; i--) {
    const seg = segments[i]!;
    const { cipher, keyId } = seg.header;
    if (cipher === 'none' || checked.has(keyId) || seg.lastLsn < seg.firstLsn) continue;
    checked.add(keyId);
    await decryptFirstFrame(io, ring, seg);
  }
}

async function decryptFirstFrame(
  io: StorageIo,
  ring: KeyRing | undefined,
  seg: RecoveredSegment,
): Promise<void> {
  const cipher = readCipher(ring, seg.header, seg.path);
  const room = seg.fileSize - FILE_HEADER_SIZE;
  const fd = await io.open(seg.path, { readOnly: true });
  let bytes: Buffer;
  try {
    bytes = await readAt(io, fd, Math.min(FIRST_READ, room));
    const frameSize =
      bytes.length < FRAME_HEADER_SIZE ? 0 : FRAME_HEADER_SIZE + bytes.readUInt32LE(4);
    if (frameSize > bytes.length && frameSize <= room) bytes = await readAt(io, fd, frameSize);
  } finally {
    await io.close(fd);
  }
  const scanner = new FrameScanner(bytes, { baseOffset: FILE_HEADER_SIZE, cipher });
  try {
    if (scanner.nextFrame() !== null) return;
  } catch (err) {
    if (isWalError(err, WalErrorCode.DECRYPT_FAILED)) throw wrongKey(seg, err);
    throw err;
  }
  const stop = scanner.stop!;
  throw corruptError(
    seg.path,
    stop.offset,
    `${stop.kind === 'eof' ? 'no frame' : stop.reason} where its first record should be`,
    DAMAGE_ADVICE,
  );
}

/** Up to `length` bytes from the first frame on. */
async function readAt(io: StorageIo, fd: IoFd, length: number): Promise<Buffer> {
  const buf = Buffer.alloc(length);
  return buf.subarray(0, await readFully(io, fd, buf, FILE_HEADER_SIZE));
}

function wrongKey(seg: RecoveredSegment, cause: WalError): WalError {
  const { keyId } = seg.header;
  return new WalError(
    WalErrorCode.DECRYPT_FAILED,
    `the key ring's key ${keyId} does not decrypt ${seg.path}, which the log wrote under key id ${keyId}: it is not the key that wrote the log, and segments written with it could never be read together with the log's. Open the log with the key that wrote this segment as key ${keyId}; a new key needs a new id (ring.rotate(newId, key))`,
    { cause, details: { segment: seg.path, keyId, offset: FILE_HEADER_SIZE } },
  );
}
