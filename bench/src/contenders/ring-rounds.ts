/**
 * The C bound's durable write, sent from JavaScript through @walnut/storage-io's ring (W2,
 * W3): rounds of the floor's frames, each one buffered RWF_DSYNC write into a preallocated
 * file, its completion delivered by the addon's eventfd on the libuv loop, a new round as
 * soon as the last one completed. Nothing of segmented or wal runs, so the distance to the C
 * bound is libuv, N-API and the promise, and the distance from here to the Wal rows is the
 * log's own layers (issue #63).
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { IoUringStorageIo } from '@walnut/storage-io';
import { type ContenderPlugin, type LogWriter, NotAvailable } from '../contender.js';
import { type Crc32c, loadCodecCrc32c } from '../floor/crc.js';
import { encodeFrame, FRAME_HEADER_BYTES } from '../floor/framing.js';
import { importOrReason } from './versions.js';

type StorageIoModule = typeof import('@walnut/storage-io');
type Ring = IoUringStorageIo;
type Fd = Awaited<ReturnType<Ring['open']>>;

const LOG_FILE = 'ring-rounds.bin';
const ROUND_BYTES = 1 << 20;

interface Waiting {
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** `bytes` of zeros, fsynced, as Walnut's segments are before it writes into them. */
function preallocate(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  try {
    const zeros = Buffer.alloc(1 << 20);
    for (let done = 0; done < bytes; done += zeros.length)
      writeSync(fd, zeros, 0, zeros.length, done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

class RingRoundsWriter implements LogWriter {
  /** The round being filled and the one in the kernel, swapped as a round starts. */
  private buffer = Buffer.allocUnsafeSlow(ROUND_BYTES);
  private spare = Buffer.allocUnsafeSlow(ROUND_BYTES);
  private used = 0;
  private waiting: Waiting[] = [];
  private inFlight = false;
  private position = 0;
  private rounds = 0;

  constructor(
    private readonly ring: Ring,
    private readonly fd: Fd,
    private readonly crc32c: Crc32c,
  ) {}

  append(payload: Uint8Array): undefined {
    if (this.used + FRAME_HEADER_BYTES + payload.byteLength > this.buffer.length) {
      throw new Error(`a round of more than ${ROUND_BYTES} bytes; this writer holds one`);
    }
    this.used = encodeFrame(this.buffer, this.used, payload, this.crc32c);
    return undefined;
  }

  sync(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.waiting.push({ resolve, reject });
      // The first waiter of a round waits for the loop to come round, as Walnut's rounds do,
      // so the producers runnable now join it.
      if (!this.inFlight && this.waiting.length === 1) setImmediate(this.startRound);
    });
  }

  appendDurable(payload: Uint8Array): Promise<void> {
    this.append(payload);
    return this.sync();
  }

  private readonly startRound = (): void => {
    if (this.inFlight || this.waiting.length === 0) return;
    const round = this.waiting;
    const data = this.buffer;
    const length = this.used;
    this.buffer = this.spare;
    this.spare = data;
    this.waiting = [];
    this.used = 0;
    this.inFlight = true;
    const token = this.ring.submitWrite(this.fd, data.subarray(0, length), this.position, {
      dsync: true,
    });
    this.position += length;
    this.ring.flush();
    this.ring.onCompletion(token, (completion) => {
      this.inFlight = false;
      this.rounds++;
      const failed =
        completion.result === length
          ? null
          : new Error(`the write of ${length} bytes completed with ${completion.result}`);
      for (const item of round) failed === null ? item.resolve() : item.reject(failed);
      if (this.waiting.length > 0) this.startRound();
    });
  };

  syncsCompleted(): number {
    return this.rounds;
  }

  async close(): Promise<void> {
    await this.ring.close(this.fd);
    await this.ring.closeIo();
  }
}

export const ringRounds: ContenderPlugin = {
  id: 'ring-rounds',
  label: 'rounds of dsync writes through the storage-io ring',
  workloads: ['W2', 'W3'],
  syncsInvisibleToStrace: true,
  async load() {
    const imported = await importOrReason<StorageIoModule>('@walnut/storage-io');
    if ('reason' in imported) throw new NotAvailable(imported.reason);
    const { IoUringStorageIo, ioUringAvailability } = imported.module;
    const { available, reason } = ioUringAvailability();
    if (!available) throw new NotAvailable(reason);
    const crc32c = await loadCodecCrc32c();
    return {
      versions: { node: process.version },
      notes: [
        "the floor's frames; each round one buffered RWF_DSYNC write sent to io-wq, completed through the addon's eventfd on the libuv loop",
      ],
      async openWriter(dir, options) {
        const file = path.join(dir, LOG_FILE);
        preallocate(
          file,
          options.records * (FRAME_HEADER_BYTES + options.recordSize) + ROUND_BYTES,
        );
        const ring = IoUringStorageIo.create();
        return new RingRoundsWriter(ring, await ring.open(file), crc32c);
      },
      async replay() {
        throw new NotAvailable('ring-rounds writes only');
      },
    };
  },
};
