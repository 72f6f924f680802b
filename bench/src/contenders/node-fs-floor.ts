/**
 * The node:fs floor: the log a good Node developer writes in an afternoon. Records are framed
 * into a 1 MiB buffer written with one fs.writeSync per full buffer; fs.fdatasyncSync where
 * durability is due. Durable appends use a simple group commit: whatever is pending when the
 * event loop comes round is written with one write and made durable with one fdatasync.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ContenderPlugin, LogWriter, ReplayResult, WriterOptions } from '../contender.js';
import { type Crc32c, loadCodecCrc32c } from '../floor/crc.js';
import { encodeFrame, FRAME_HEADER_BYTES, FrameError, parseFrames } from '../floor/framing.js';
import { GroupCommit } from '../floor/group-commit.js';

const BUFFER_BYTES = 1 << 20;
const LOG_FILE = 'log.bin';

function writeFully(fd: number, data: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) done += fs.writeSync(fd, data, done, length - done, position + done);
}

/** A new file is durable only once its directory entry is: fsync the directory once. */
function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export class FloorWriter implements LogWriter {
  private buffer = Buffer.allocUnsafeSlow(BUFFER_BYTES);
  private used = 0;
  private position = 0;
  private syncs = 0;
  private readonly rounds = new GroupCommit((payloads) => {
    for (const payload of payloads) this.frame(payload);
    this.writeBuffer();
    fs.fdatasyncSync(this.fd);
    this.syncs++;
  });

  private constructor(
    private readonly fd: number,
    private readonly crc32c: Crc32c,
  ) {}

  static create(dir: string, crc32c: Crc32c): FloorWriter {
    const fd = fs.openSync(path.join(dir, LOG_FILE), 'w');
    syncDirectory(dir);
    return new FloorWriter(fd, crc32c);
  }

  append(payload: Uint8Array): undefined {
    this.frame(payload);
    return undefined;
  }

  async sync(): Promise<void> {
    this.writeBuffer();
    fs.fdatasyncSync(this.fd);
    this.syncs++;
  }

  appendDurable(payload: Uint8Array): Promise<void> {
    return this.rounds.add(payload);
  }

  syncsCompleted(): number {
    return this.syncs;
  }

  async close(): Promise<void> {
    this.writeBuffer();
    fs.closeSync(this.fd);
  }

  private frame(payload: Uint8Array): void {
    const frameBytes = FRAME_HEADER_BYTES + payload.byteLength;
    if (this.used + frameBytes > this.buffer.length) this.writeBuffer();
    if (frameBytes > this.buffer.length) this.buffer = Buffer.allocUnsafeSlow(frameBytes);
    this.used = encodeFrame(this.buffer, this.used, payload, this.crc32c);
  }

  private writeBuffer(): void {
    if (this.used === 0) return;
    writeFully(this.fd, this.buffer, this.used, this.position);
    this.position += this.used;
    this.used = 0;
  }
}

/** Reads the log in 1 MiB chunks, parsing frames and checking every CRC. */
export function replayFloorLog(
  dir: string,
  crc32c: Crc32c,
  visit: (payload: Uint8Array) => void,
): void {
  const fd = fs.openSync(path.join(dir, LOG_FILE), 'r');
  try {
    let chunk = Buffer.allocUnsafeSlow(BUFFER_BYTES);
    let filled = 0;
    let position = 0;
    for (;;) {
      const read = fs.readSync(fd, chunk, filled, chunk.length - filled, position);
      position += read;
      filled += read;
      const consumed = parseFrames(chunk, filled, crc32c, visit);
      if (read === 0) {
        if (consumed !== filled)
          throw new FrameError(`torn frame at file offset ${position - filled + consumed}`);
        return;
      }
      chunk.copyWithin(0, consumed, filled);
      filled -= consumed;
      if (filled >= FRAME_HEADER_BYTES) {
        const needed = FRAME_HEADER_BYTES + chunk.readUInt32LE(0);
        if (needed > chunk.length) {
          const larger = Buffer.allocUnsafeSlow(needed);
          chunk.copy(larger, 0, 0, filled);
          chunk = larger;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

export const nodeFsFloor: ContenderPlugin = {
  id: 'node-fs-floor',
  label: 'node:fs floor',
  workloads: ['W1', 'W2', 'W3', 'W4', 'W5', 'W6'],
  async load() {
    const crc32c = await loadCodecCrc32c();
    return {
      versions: { node: process.version },
      notes: ['[len u32][crc32c u32][payload] in a 1 MiB buffer; writeSync + fdatasyncSync'],
      async openWriter(dir: string, _options: WriterOptions) {
        return FloorWriter.create(dir, crc32c);
      },
      async replay(dir, visit): Promise<ReplayResult> {
        replayFloorLog(dir, crc32c, visit);
        return { checksumsVerified: true };
      },
    };
  },
};
