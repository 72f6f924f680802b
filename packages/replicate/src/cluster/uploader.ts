import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { Wal } from '@walnut/wal';
import { Backoff } from './backoff.js';
import { type ClusterLink, describe } from './link.js';

/** Reads of a segment being uploaded: 64 KiB (the default) cost ~0.3 ms of this thread each. */
const UPLOAD_READ_BYTES = 1024 * 1024;

/** A sealed segment stored in the object store. */
export interface SegmentObject {
  readonly name: string;
  readonly firstLsn: bigint;
  readonly lastLsn: bigint;
}

/** Objects are named by their LSN range, so their names sort and say what they hold. */
export function objectName(firstLsn: bigint, lastLsn: bigint): string {
  return `segment-${firstLsn.toString().padStart(20, '0')}-${lastLsn.toString().padStart(20, '0')}`;
}

function parseObjectName(name: string): SegmentObject | null {
  const match = /^segment-(\d{20})-(\d{20})$/.exec(name);
  if (!match) return null;
  return { name, firstLsn: BigInt(match[1]!), lastLsn: BigInt(match[2]!) };
}

/** The segment objects, by first LSN. */
export async function listSegmentObjects(link: ClusterLink): Promise<SegmentObject[]> {
  const infos = await link.objects.list();
  return infos
    .filter((info) => !info.deleted)
    .map((info) => parseObjectName(info.name))
    .filter((o): o is SegmentObject => o !== null)
    .sort((a, b) => (a.firstLsn < b.firstLsn ? -1 : a.firstLsn > b.firstLsn ? 1 : 0));
}

export interface UploadCounters {
  segments: number;
  bytes: number;
  failures: number;
  lastError: string | null;
  /** Highest LSN held by an uploaded segment (0n: none). */
  uploadedLsn: bigint;
}

/**
 * Copies each sealed segment of the primary's log into the object store once every record
 * in it is in the stream (never before: the object store must not hold what the stream
 * never acknowledged). A follower the stream has trimmed past restores from these.
 */
export class SegmentUploader {
  readonly counters: UploadCounters = {
    segments: 0,
    bytes: 0,
    failures: 0,
    lastError: null,
    uploadedLsn: 0n,
  };
  private readonly uploaded = new Set<string>();
  private replicatedLsn = 0n;
  private running: Promise<void> | null = null;
  private again = false;
  private stopped = false;
  private readonly backoff = new Backoff(500, 30_000);
  private retryAt = 0;
  /** After a re-seed or a failure the bucket may be gone: the next pass recreates it first. */
  private bucketInDoubt = false;

  constructor(
    private readonly wal: Wal,
    private readonly link: ClusterLink,
    /** Creates the object bucket if the cluster lost it (ClusterLink.recreateObjects). */
    private readonly recreateBucket: () => Promise<void>,
  ) {}

  static off(): UploadCounters {
    return {
      segments: 0,
      bytes: 0,
      failures: 0,
      lastError: 'off (uploadSegments: false)',
      uploadedLsn: 0n,
    };
  }

  async start(replicatedLsn: bigint): Promise<void> {
    try {
      await this.bucket();
      for (const object of await listSegmentObjects(this.link)) {
        this.uploaded.add(object.name);
        if (object.lastLsn > this.counters.uploadedLsn) this.counters.uploadedLsn = object.lastLsn;
      }
    } catch (error) {
      this.bucketInDoubt = true;
      this.counters.lastError = describe(error);
    }
    this.replicated(replicatedLsn);
  }

  /**
   * After a re-seed: the object store may have been lost with the stream, so what it holds
   * is listed again, and segments are uploaded as the re-seeded stream comes to hold them.
   */
  restart(replicatedLsn: bigint): void {
    this.bucketInDoubt = true;
    this.uploaded.clear();
    this.counters.uploadedLsn = 0n;
    this.replicatedLsn = 0n;
    this.retryAt = 0;
    void this.start(replicatedLsn);
  }

  /** The stream holds everything up to `lsn`: upload the segments that became eligible. */
  replicated(lsn: bigint): void {
    if (lsn > this.replicatedLsn) this.replicatedLsn = lsn;
    if (this.stopped || Date.now() < this.retryAt) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.pass().finally(() => {
      this.running = null;
      if (this.again && !this.stopped) {
        this.again = false;
        this.replicated(this.replicatedLsn);
      }
    });
  }

  /** Waits for the upload under way; uploads nothing more. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.running;
  }

  private async bucket(): Promise<void> {
    if (!this.bucketInDoubt) return;
    await this.recreateBucket();
    this.bucketInDoubt = false;
  }

  private async pass(): Promise<void> {
    try {
      await this.bucket();
      const segments = await this.wal.segments();
      for (const segment of segments) {
        if (this.stopped) return;
        if (!segment.sealed || segment.lastLsn === null || segment.lastLsn > this.replicatedLsn)
          continue;
        const name = objectName(segment.firstLsn, segment.lastLsn);
        if (this.uploaded.has(name)) continue;
        const info = await this.link.objects.put(
          { name, description: `${basename(segment.path)} of ${this.link.names.stream}` },
          Readable.toWeb(
            createReadStream(segment.path, { highWaterMark: UPLOAD_READ_BYTES }),
          ) as ReadableStream<Uint8Array>,
        );
        this.uploaded.add(name);
        this.counters.segments++;
        this.counters.bytes += info.size;
        if (segment.lastLsn > this.counters.uploadedLsn)
          this.counters.uploadedLsn = segment.lastLsn;
      }
      this.backoff.reset();
    } catch (error) {
      this.bucketInDoubt = true;
      this.counters.failures++;
      this.counters.lastError = describe(error);
      this.retryAt = Date.now() + this.backoff.next();
    }
  }
}
