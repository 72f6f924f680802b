import { open } from 'node:fs/promises';
import {
  BodyKind,
  decodeBatchBody,
  decodeRecordBody,
  FrameScanner,
  type WalRecord,
} from '@walnut/codec';
import { listSegmentFiles, type SegmentFile } from './directory.js';
import { encryptedLogError } from './encrypted.js';

/** Where a follower stands: the segment it reads and the offset after its last frame. */
export interface FollowPosition {
  readonly segment: SegmentFile;
  readonly offset: number;
}

export interface FollowOptions {
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  readonly onRecord: (record: WalRecord) => void;
}

/**
 * Follows a log that another process writes, from the files alone (a writer holds the
 * lock, so a second process cannot open it for writing and has no in-process `tail`).
 * It polls the active segment for growth, decodes whole frames only — a frame the writer
 * has not finished is read again on the next poll — and moves on when a newer segment
 * appears, after draining the one it was in.
 */
export async function followLog(
  dir: string,
  start: FollowPosition,
  options: FollowOptions,
): Promise<void> {
  const pollMs = options.pollMs ?? 200;
  let { segment, offset } = start;
  while (!options.signal?.aborted) {
    const advanced = await readNewFrames(dir, segment, offset, options.onRecord);
    const grew = advanced !== offset;
    offset = advanced;
    if (!grew) {
      const next = (await listSegmentFiles(dir)).find((s) => s.firstLsn > segment.firstLsn);
      if (next) {
        // The writer sealed this segment: one last read, then move on.
        offset = await readNewFrames(dir, segment, offset, options.onRecord);
        segment = next;
        offset = 0;
        continue;
      }
      await sleep(pollMs, options.signal);
    }
  }
}

/** Reads and emits every complete frame from `offset`; returns the offset after the last one. */
async function readNewFrames(
  dir: string,
  segment: SegmentFile,
  offset: number,
  onRecord: (record: WalRecord) => void,
): Promise<number> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(segment.path, 'r');
  } catch {
    return offset; // truncated away by the writer; the caller finds the next segment
  }
  try {
    const { size } = await handle.stat();
    const headerLength = 64;
    const from = Math.max(offset, headerLength);
    if (size <= from) return from;
    const buf = Buffer.allocUnsafe(size - from);
    const { bytesRead } = await handle.read(buf, 0, buf.length, from);
    const scanner = new FrameScanner(buf.subarray(0, bytesRead), {
      baseOffset: from,
      chunked: true,
      passEncrypted: true,
    });
    for (let frame = scanner.nextFrame(); frame !== null; frame = scanner.nextFrame()) {
      // A writer reopened with a key starts a new, encrypted segment: stop, never skip it.
      if (frame.body[0] === BodyKind.ENCRYPTED) throw encryptedLogError(dir, segment, null, 'tail');
      if (frame.body[0] === BodyKind.RECORD) onRecord(decodeRecordBody(frame.body));
      else if (frame.body[0] === BodyKind.BATCH)
        for (const r of decodeBatchBody(frame.body)) onRecord(r);
    }
    return scanner.offset;
  } finally {
    await handle.close();
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}
