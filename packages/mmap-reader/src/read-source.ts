import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { classifyDamage, crc32c } from '@walnut/codec';
import type { FrameSource } from './frame-source.js';
import { type DamageKind, StopCode } from './frame-source.js';

/** Bytes per read: large sequential reads, like the hand-written reader the bench compares. */
const CHUNK = 1024 * 1024;
const FRAME_HEADER = 8;

const EMPTY = Buffer.alloc(0);
const ZEROS = Buffer.alloc(CHUNK);

/** Closes descriptors of readers that were dropped before they were read to the end. */
const leaked = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // Already closed: nothing to do.
  }
});

/**
 * The fallback when the native addon is unavailable (or mode 'read' was asked for): reads
 * the file in 1 MiB chunks and verifies each frame's CRC32C in JavaScript. Records are
 * views into the chunk they were read in; a chunk is never reused, so views stay valid.
 */
export class ReadFrameSource implements FrameSource {
  readonly mode = 'read' as const;
  readonly madviseState = null;
  readonly length: number;
  readonly path: string;
  readonly #maxBody: number;
  #fd: number;
  buf: Buffer = EMPTY;
  bodyStart = 0;
  bodyEnd = 0;
  frameOffset = 0;
  stopCode: StopCode = StopCode.TABLE_FULL;
  stopOffset = 0;
  /** File offset of `buf[0]`. */
  #bufBase = 0;
  /** Next frame, as an index into `buf`. */
  #pos = 0;
  #stopped = false;

  constructor(path: string, maxBody: number) {
    this.path = path;
    this.#maxBody = maxBody;
    this.#fd = openSync(path, 'r');
    try {
      this.length = fstatSync(this.#fd).size;
    } catch (error) {
      closeSync(this.#fd);
      throw error;
    }
    leaked.register(this, this.#fd, this);
  }

  readPrefix(n: number): Buffer {
    return this.#read(0, Math.min(n, this.length));
  }

  seek(offset: number): void {
    this.#bufBase = Math.min(offset, this.length);
    this.buf = EMPTY;
    this.#pos = 0;
    this.#stopped = false;
    this.stopCode = StopCode.TABLE_FULL;
  }

  next(): boolean {
    if (this.#stopped) return false;
    for (;;) {
      const buf = this.buf;
      const p = this.#pos;
      const fileOffset = this.#bufBase + p;
      const fileLeft = this.length - fileOffset;
      if (fileLeft === 0) return this.#stop(StopCode.END, fileOffset);
      const inBuf = buf.length - p;
      if (inBuf < FRAME_HEADER) {
        if (fileLeft < FRAME_HEADER) return this.#stop(StopCode.SHORT_HEADER, fileOffset);
        this.#fill(fileOffset, FRAME_HEADER);
        continue;
      }
      const crc = buf.readUInt32LE(p);
      const len = buf.readUInt32LE(p + 4);
      if (crc === 0 && len === 0) return this.#stop(StopCode.ZERO_HEADER, fileOffset);
      if (len === 0 || len > this.#maxBody) return this.#stop(StopCode.BAD_LENGTH, fileOffset);
      if (len > fileLeft - FRAME_HEADER) return this.#stop(StopCode.BEYOND_END, fileOffset);
      if (len > inBuf - FRAME_HEADER) {
        this.#fill(fileOffset, FRAME_HEADER + len);
        continue;
      }
      const end = p + FRAME_HEADER + len;
      if (crc32c(buf.subarray(p + 4, end)) !== crc)
        return this.#stop(StopCode.CRC_MISMATCH, fileOffset);
      this.frameOffset = fileOffset;
      this.bodyStart = p + FRAME_HEADER;
      this.bodyEnd = end;
      this.#pos = end;
      return true;
    }
  }

  /** Reads a fresh chunk starting at `fileOffset`, at least `needed` bytes long. */
  #fill(fileOffset: number, needed: number): void {
    const size = Math.min(Math.max(CHUNK, needed), this.length - fileOffset);
    this.buf = this.#read(fileOffset, size);
    this.#bufBase = fileOffset;
    this.#pos = 0;
  }

  #stop(code: StopCode, fileOffset: number): false {
    this.stopCode = code;
    this.stopOffset = fileOffset;
    this.#stopped = true;
    return false;
  }

  #read(position: number, size: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = readSync(this.#fileDescriptor(), out, done, size - done, position + done);
      if (n === 0) break;
      done += n;
    }
    return done === size ? out : out.subarray(0, done);
  }

  #fileDescriptor(): number {
    if (this.#fd < 0) throw new Error(`${this.path} was closed`);
    return this.#fd;
  }

  classify(offset: number, maxFrameBody: number): DamageKind {
    if (offset >= this.length) return 'eof';
    for (let at = offset; at < this.length; at += CHUNK) {
      const chunk = this.#read(at, Math.min(CHUNK, this.length - at));
      if (!chunk.equals(ZEROS.subarray(0, chunk.length))) {
        // Damage followed by data: judging it needs every byte after it (rare, and bounded
        // by the file size).
        return classifyDamage(this.#read(offset, this.length - offset), 0, maxFrameBody);
      }
    }
    return 'eof';
  }

  releasePages(): boolean {
    return false;
  }

  close(): void {
    if (this.#fd < 0) return;
    leaked.unregister(this);
    closeSync(this.#fd);
    this.#fd = -1;
  }
}
