import { join } from 'node:path';
import { crc32c, FILE_HEADER_SIZE, WalError, WalErrorCode } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { HEADER_RESUME_POINT, type ResumePoint } from './resume-point.js';

export const MANIFEST_FILE = 'MANIFEST';
const MANIFEST_TEMP = 'MANIFEST.tmp';

/** One core's place in a checkpoint: the boundary just after its epoch barrier. */
export interface CoreCheckpoint extends ResumePoint {
  readonly coreId: number;
  /** Bytes before this offset may have been reclaimed (they read as zeros). */
  readonly reclaimedBefore: number;
}

/** The place of a core that no checkpoint has covered yet: its file header. */
export function headerCheckpoint(coreId: number): CoreCheckpoint {
  return { coreId, ...HEADER_RESUME_POINT, reclaimedBefore: FILE_HEADER_SIZE };
}

/**
 * The last completed checkpoint: recovery replays each core from its `position`; everything
 * before it is covered by the checkpoint.
 */
export interface CheckpointManifest {
  readonly checkpointId: bigint;
  readonly epoch: bigint;
  readonly numCores: number;
  readonly segmentPattern: string;
  /** Sorted by core id. May list cores ≥ numCores (files left from a larger core count). */
  readonly cores: readonly CoreCheckpoint[];
}

interface ManifestJson {
  version: 1;
  checkpointId: string;
  epoch: string;
  numCores: number;
  segmentPattern: string;
  cores: Array<{
    coreId: number;
    position: number;
    sequence: string;
    epoch: string;
    timestampNs: string;
    reclaimedBefore: number;
  }>;
}

export function encodeManifest(manifest: CheckpointManifest): Buffer {
  const json: ManifestJson = {
    version: 1,
    checkpointId: manifest.checkpointId.toString(),
    epoch: manifest.epoch.toString(),
    numCores: manifest.numCores,
    segmentPattern: manifest.segmentPattern,
    cores: manifest.cores.map((c) => ({
      coreId: c.coreId,
      position: c.position,
      sequence: c.sequence.toString(),
      epoch: c.epoch.toString(),
      timestampNs: c.timestampNs.toString(),
      reclaimedBefore: c.reclaimedBefore,
    })),
  };
  const body = Buffer.from(JSON.stringify(json), 'utf8');
  return Buffer.from(`${JSON.stringify({ crc32c: crc32c(body) })}\n${body.toString('utf8')}\n`);
}

export function decodeManifest(bytes: Buffer, path: string): CheckpointManifest {
  const text = bytes.toString('utf8');
  const newline = text.indexOf('\n');
  try {
    const { crc32c: expected } = JSON.parse(text.slice(0, newline)) as { crc32c: number };
    const body = text.slice(newline + 1).trimEnd();
    if (crc32c(Buffer.from(body, 'utf8')) !== expected) throw new Error('checksum mismatch');
    const json = JSON.parse(body) as ManifestJson;
    if (json.version !== 1) throw new Error(`unknown manifest version ${json.version}`);
    return {
      checkpointId: BigInt(json.checkpointId),
      epoch: BigInt(json.epoch),
      numCores: json.numCores,
      segmentPattern: json.segmentPattern,
      cores: json.cores.map((c) => ({
        coreId: c.coreId,
        position: c.position,
        sequence: BigInt(c.sequence),
        epoch: BigInt(c.epoch),
        timestampNs: BigInt(c.timestampNs),
        reclaimedBefore: c.reclaimedBefore,
      })),
    };
  } catch (error) {
    throw new WalError(
      WalErrorCode.CORRUPT,
      `${path} is not a valid checkpoint manifest (${(error as Error).message}); it was damaged after being written atomically — restore it from a backup`,
      { cause: error, details: { segment: path, offset: 0 } },
    );
  }
}

/** Reads `MANIFEST` in `dir`, or null when there is none. */
export async function readManifest(io: StorageIo, dir: string): Promise<CheckpointManifest | null> {
  const path = join(dir, MANIFEST_FILE);
  const stat = await io.stat(path);
  if (stat === null) return null;
  const fd = await io.open(path, { readOnly: true });
  try {
    const bytes = Buffer.alloc(stat.size);
    let done = 0;
    while (done < bytes.length) {
      const n = await io.read(fd, bytes.subarray(done), done);
      if (n === 0) break;
      done += n;
    }
    return decodeManifest(bytes.subarray(0, done), path);
  } finally {
    await io.close(fd);
  }
}

/**
 * Replaces `MANIFEST` atomically: writes `MANIFEST.tmp`, fsyncs it, renames it over
 * `MANIFEST` and fsyncs the directory. A crash leaves either the old or the new manifest.
 */
export async function writeManifest(
  io: StorageIo,
  dir: string,
  manifest: CheckpointManifest,
): Promise<void> {
  const temp = join(dir, MANIFEST_TEMP);
  const fd = await io.open(temp, { create: true, truncate: true });
  try {
    await io.write(fd, encodeManifest(manifest), 0);
    await io.fsync(fd);
  } catch (error) {
    await io.close(fd).catch(() => {});
    await io.unlink(temp).catch(() => {});
    throw error;
  }
  await io.close(fd);
  await io.rename(temp, join(dir, MANIFEST_FILE));
  await io.syncDirectory(dir);
}
