import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  batchFrameSize,
  decodeFileHeader,
  encodeBatchFrame,
  encodeFileHeader,
  encodeRecordFrame,
  FrameCipher,
  type KeyRing,
  recordFrameSize,
  segmentFileName,
  type WalRecordInput,
} from '@walnut/codec';

/** One frame of a test segment: a record, or an atomic batch. */
export type FrameSpec = WalRecordInput | { batch: WalRecordInput[] };

export interface SegmentSpec {
  firstLsn: bigint;
  frames: FrameSpec[];
  keyRing?: KeyRing;
  /** Bytes appended after the last frame (zero fill, garbage, a torn frame...). */
  tail?: Uint8Array;
}

export interface BuiltSegment {
  bytes: Buffer;
  /** File offset of each frame. */
  frameOffsets: number[];
  /** File offset just past the last frame (where `tail` starts). */
  end: number;
}

/** Encodes a segment file with codec's encoders (the format the writers produce). */
export function buildSegment(spec: SegmentSpec): BuiltSegment {
  const encrypted = spec.keyRing !== undefined;
  const header = encodeFileHeader({
    firstLsn: spec.firstLsn,
    salt: randomBytes(16),
    cipher: encrypted ? 'aes-256-gcm' : 'none',
    fileKind: 'segment',
    keyId: encrypted ? spec.keyRing!.currentKeyId : 0,
  });
  const cipher = encrypted ? FrameCipher.forFile(spec.keyRing!, decodeFileHeader(header)) : null;
  const parts: Buffer[] = [header];
  const frameOffsets: number[] = [];
  let offset = header.length;
  let lsn = spec.firstLsn;
  for (const frame of spec.frames) {
    let plain: Buffer;
    if ('batch' in frame) {
      plain = Buffer.alloc(batchFrameSize(frame.batch));
      encodeBatchFrame(plain, 0, lsn, frame.batch);
      lsn += BigInt(frame.batch.length);
    } else {
      plain = Buffer.alloc(recordFrameSize(frame));
      encodeRecordFrame(plain, 0, lsn, frame);
      lsn += 1n;
    }
    let out = plain;
    if (cipher !== null) {
      const body = plain.subarray(8);
      out = Buffer.alloc(cipher.encryptedFrameSize(body.length));
      cipher.encryptFrame(out, 0, body);
    }
    frameOffsets.push(offset);
    parts.push(out);
    offset += out.length;
  }
  if (spec.tail !== undefined) parts.push(Buffer.from(spec.tail));
  return { bytes: Buffer.concat(parts), frameOffsets, end: offset };
}

/** `count` single-record frames with payloads `payload-<i>`. */
export function records(count: number, payloadSize?: number): WalRecordInput[] {
  return Array.from({ length: count }, (_, i) => ({
    payload:
      payloadSize === undefined ? Buffer.from(`payload-${i}`) : Buffer.alloc(payloadSize, i & 0xff),
  }));
}

/** Writes a segment named by its first LSN into `dir`; returns its path. */
export function writeSegment(dir: string, spec: SegmentSpec): { path: string } & BuiltSegment {
  const built = buildSegment(spec);
  const path = join(dir, segmentFileName(spec.firstLsn));
  writeFileSync(path, built.bytes);
  return { path, ...built };
}
