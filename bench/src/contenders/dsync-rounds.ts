/**
 * The floor with the cheapest durable write this disk offers (W2, W3): it frames and groups
 * exactly as the floor does, in the same driver, but makes each round durable as one
 * O_DIRECT write on an O_DSYNC descriptor, so the kernel syncs the write itself and no
 * separate fdatasync follows (docs/decisions/0604). Its W2 p50 is close to what the device
 * takes for one small durable write; its W3 shows what that write buys a round that still
 * pays the floor's JavaScript. Not a log anyone would ship: no recovery, no reads, no lock.
 */
import { closeSync, constants, openSync, statfsSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import { alignedBuffer, alignedBufferUnavailable, DIRECT_IO_ALIGNMENT } from '@walnut/storage-io';
import { type ContenderPlugin, type LogWriter, NotAvailable } from '../contender.js';
import { type Crc32c, loadCodecCrc32c } from '../floor/crc.js';
import { encodeFrame, FRAME_HEADER_BYTES } from '../floor/framing.js';
import { GroupCommit } from '../floor/group-commit.js';

const BLOCK = DIRECT_IO_ALIGNMENT;
/** Room for one round of frames after the partial block carried from the last one. */
const BUFFER_BYTES = (1 << 20) + BLOCK;
const LOG_FILE = 'dsync-rounds.bin';
/** statfs(2)'s f_type of FUSE, which does not honour a direct write's O_DSYNC (decision 0324). */
const FUSE_SUPER_MAGIC = 0x65735546;

const alignDown = (n: number) => n - (n % BLOCK);
const alignUp = (n: number) => alignDown(n + BLOCK - 1);

class DsyncRoundsWriter implements LogWriter {
  private readonly buffer = alignedBuffer(BUFFER_BYTES);
  /** File offset of the end of the frames written; the buffer starts at alignDown(position). */
  private position = 0;
  private rounds = 0;
  private framed: Uint8Array[] = [];
  /** As the floor's rounds, each written durably by one direct write. */
  private readonly group = new GroupCommit((payloads) => this.writeDurably(payloads));

  constructor(
    private readonly fd: number,
    private readonly crc32c: Crc32c,
  ) {}

  append(payload: Uint8Array): undefined {
    this.framed.push(payload);
    return undefined;
  }

  async sync(): Promise<void> {
    this.writeDurably(this.framed);
    this.framed = [];
  }

  appendDurable(payload: Uint8Array): Promise<void> {
    return this.group.add(payload);
  }

  syncsCompleted(): number {
    return this.rounds;
  }

  async close(): Promise<void> {
    closeSync(this.fd);
  }

  /** Frames `payloads` after the carried partial block and writes whole blocks, durably. */
  private writeDurably(payloads: readonly Uint8Array[]): void {
    const buffer = this.buffer;
    const start = alignDown(this.position);
    let used = this.position - start;
    for (const payload of payloads) {
      if (used + FRAME_HEADER_BYTES + payload.byteLength > buffer.length) {
        throw new Error(`a round of more than ${BUFFER_BYTES} bytes; this writer holds one`);
      }
      used = encodeFrame(buffer, used, payload, this.crc32c);
    }
    const length = alignUp(used);
    buffer.fill(0, used, length);
    for (let done = 0; done < length; ) {
      done += writeSync(this.fd, buffer, done, length - done, start + done);
    }
    this.rounds++;
    this.position = start + used;
    // The partial last block is rewritten, unchanged, at the head of the next round.
    const carried = alignDown(used);
    buffer.copyWithin(0, carried, used);
  }
}

function openDirectDsync(dir: string): number {
  if (statfsSync(dir).type === FUSE_SUPER_MAGIC) {
    throw new NotAvailable('FUSE does not make a direct write on an O_DSYNC descriptor durable');
  }
  const flags =
    constants.O_WRONLY |
    constants.O_CREAT |
    constants.O_TRUNC |
    constants.O_DIRECT |
    constants.O_DSYNC;
  try {
    return openSync(path.join(dir, LOG_FILE), flags, 0o644);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
    throw new NotAvailable(`the file system under ${dir} refuses O_DIRECT`);
  }
}

export const dsyncRounds: ContenderPlugin = {
  id: 'dsync-rounds',
  label: 'floor with O_DSYNC direct writes',
  workloads: ['W2', 'W3'],
  async load() {
    const unavailable = alignedBufferUnavailable();
    if (unavailable !== null) throw new NotAvailable(unavailable);
    if (constants.O_DIRECT === undefined) throw new NotAvailable('no O_DIRECT on this platform');
    const crc32c = await loadCodecCrc32c();
    return {
      versions: { node: process.version },
      notes: [
        "the floor's framing and grouping; each round one O_DIRECT write of whole 4 KiB blocks on an O_DSYNC descriptor",
      ],
      async openWriter(dir: string) {
        return new DsyncRoundsWriter(openDirectDsync(dir), crc32c);
      },
      async replay() {
        throw new NotAvailable('dsync-rounds writes only');
      },
    };
  },
};
