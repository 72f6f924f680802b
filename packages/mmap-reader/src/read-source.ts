import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { classifyDamage, crc32c, type DamageKind, FrameStop } from '@walnut/codec';
import type { FrameSource } from './frame-source.js';
import { RUN_FRAMES } from './frame-source.js';

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
  readonly path: string;
  /** The file's size at open (at most `end`), lowered when a read finds it cut since. */
  private size: number;
  private readonly maxBody: number;
  private fd: number;
  readonly table = new Uint32Array(RUN_FRAMES * 2);
  runBuf: Buffer = EMPTY;
  readonly runBase = 0;
  runFileOffset = 0;
  runEnd = 0;
  stopCode: FrameStop = FrameStop.TABLE_FULL;
  stopOffset = 0;
  /** The chunk being read, and the file offset of its first byte. */
  private buf: Buffer = EMPTY;
  private bufBase = 0;
  /** Next frame, as an index into `buf`. */
  private pos = 0;
  private stopped = false;

  /** `end`: the file is read as if it ended there (when it is longer). */
  constructor(path: string, maxBody: number, end: number) {
    this.path = path;
    this.maxBody = maxBody;
    this.fd = openSync(path, 'r');
    try {
      this.size = Math.min(fstatSync(this.fd).size, end);
    } catch (error) {
      closeSync(this.fd);
      throw error;
    }
    leaked.register(this, this.fd, this);
  }

  get length(): number {
    return this.size;
  }

  readPrefix(n: number): Buffer {
    return this.read(0, Math.min(n, this.length));
  }

  seek(offset: number): void {
    this.bufBase = Math.min(offset, this.length);
    this.buf = EMPTY;
    this.pos = 0;
    this.stopped = false;
    this.stopCode = FrameStop.TABLE_FULL;
    this.runEnd = this.bufBase;
  }

  /** Verifies frames of the current chunk (reading the next chunk when none is whole). */
  nextRun(): number {
    if (this.stopped) return 0;
    const table = this.table;
    let count = 0;
    for (;;) {
      const buf = this.buf;
      const p = this.pos;
      const fileOffset = this.bufBase + p;
      const fileLeft = this.length - fileOffset;
      const inBuf = buf.length - p;
      let code: FrameStop | -1 = -1;
      if (fileLeft === 0) code = FrameStop.END;
      else if (inBuf < FRAME_HEADER) {
        if (fileLeft < FRAME_HEADER) code = FrameStop.SHORT_HEADER;
      } else {
        const crc = buf.readUInt32LE(p);
        const len = buf.readUInt32LE(p + 4);
        if (crc === 0 && len === 0) code = FrameStop.ZERO_HEADER;
        else if (len === 0 || len > this.maxBody) code = FrameStop.BAD_LENGTH;
        else if (len > fileLeft - FRAME_HEADER) code = FrameStop.BEYOND_END;
        else if (len <= inBuf - FRAME_HEADER) {
          const end = p + FRAME_HEADER + len;
          if (crc32c(buf.subarray(p + 4, end)) !== crc) code = FrameStop.CRC_MISMATCH;
          else {
            table[2 * count] = p;
            table[2 * count + 1] = len;
            this.pos = end;
            this.runEnd = this.bufBase + end;
            if (++count < RUN_FRAMES) continue;
            return this.run(buf, count);
          }
        }
      }
      if (code !== -1) {
        this.stopped = true;
        this.stopCode = code;
        this.stopOffset = fileOffset;
        return count === 0 ? 0 : this.run(buf, count);
      }
      // The next frame is not whole in this chunk: finish the run, or read on.
      if (count > 0) return this.run(buf, count);
      this.fill(
        fileOffset,
        inBuf < FRAME_HEADER ? FRAME_HEADER : FRAME_HEADER + buf.readUInt32LE(p + 4),
      );
    }
  }

  private run(buf: Buffer, count: number): number {
    this.runBuf = buf;
    this.runFileOffset = this.bufBase;
    return count;
  }

  /** Reads a fresh chunk starting at `fileOffset`, at least `needed` bytes long. */
  private fill(fileOffset: number, needed: number): void {
    const size = Math.min(Math.max(CHUNK, needed), this.length - fileOffset);
    this.buf = this.read(fileOffset, size);
    this.bufBase = fileOffset;
    this.pos = 0;
  }

  private read(position: number, size: number): Buffer {
    const out = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = readSync(this.fileDescriptor(), out, done, size - done, position + done);
      if (n === 0) break;
      done += n;
    }
    if (done === size) return out;
    // Cut since it was opened (a portable file's truncateAfter): it ends here now. Reading
    // on to the size seen at open would find nothing, again and again.
    this.size = Math.min(this.size, position + done);
    return out.subarray(0, done);
  }

  private fileDescriptor(): number {
    if (this.fd < 0) throw new Error(`${this.path} was closed`);
    return this.fd;
  }

  classify(offset: number, maxFrameBody: number): DamageKind {
    if (offset >= this.length) return 'eof';
    for (let at = offset; at < this.length; at += CHUNK) {
      const chunk = this.read(at, Math.min(CHUNK, this.length - at));
      if (!chunk.equals(ZEROS.subarray(0, chunk.length))) {
        // Damage followed by data: judging it needs every byte after it (rare, and bounded
        // by the file size).
        return classifyDamage(this.read(offset, this.length - offset), 0, maxFrameBody);
      }
    }
    return 'eof';
  }

  releasePages(): boolean {
    return false;
  }

  close(): void {
    if (this.fd < 0) return;
    leaked.unregister(this);
    closeSync(this.fd);
    this.fd = -1;
  }
}
