import { FILE_HEADER_SIZE, invalidArgument } from '@walnut/codec';
import type { CheckpointManifest, CoreCheckpoint } from './manifest.js';
import type { ResumePoint } from './resume-point.js';

// The manifests written after the first, each derived from the last one: a checkpoint's
// (docs/decisions/0503-percore-checkpoints-and-recovery-order.md) and a reclaim's
// (docs/decisions/0502-percore-reclaim-by-sparse-rewrite.md).

/** `WAL_BAD_ARGUMENT` unless `checkpointId` is a bigint above the last checkpoint's. */
export function checkCheckpointId(checkpointId: bigint, previous: CheckpointManifest): void {
  if (typeof checkpointId !== 'bigint' || checkpointId <= previous.checkpointId)
    invalidArgument(
      `checkpointId must be a bigint greater than the last one (${previous.checkpointId}), got ${String(checkpointId)}`,
    );
}

/**
 * The manifest of checkpoint `checkpointId`: each core at the end of its barrier (`barriers`
 * in core id order), each stray file at its current valid end, reclaim floors carried over.
 */
export function checkpointManifest(
  previous: CheckpointManifest,
  next: { checkpointId: bigint; epoch: bigint; numCores: number; segmentPattern: string },
  barriers: readonly ResumePoint[],
  strayEnds: ReadonlyMap<number, ResumePoint>,
): CheckpointManifest {
  const floors = new Map(previous.cores.map((c) => [c.coreId, c.reclaimedBefore]));
  const cores: CoreCheckpoint[] = barriers.map((point, coreId) => ({
    coreId,
    ...point,
    reclaimedBefore: floors.get(coreId) ?? FILE_HEADER_SIZE,
  }));
  for (const [coreId, end] of strayEnds)
    cores.push({ coreId, ...end, reclaimedBefore: floors.get(coreId) ?? FILE_HEADER_SIZE });
  return {
    checkpointId: next.checkpointId,
    epoch: next.epoch,
    numCores: next.numCores,
    segmentPattern: next.segmentPattern,
    cores,
  };
}

/**
 * What a reclaim frees: the cores below numCores whose space before their manifest position
 * is not freed yet, and the manifest that records the new floors (written before any file is
 * rewritten).
 */
export function reclaimFloors(
  manifest: CheckpointManifest,
  numCores: number,
): { todo: CoreCheckpoint[]; floored: CheckpointManifest } {
  const todo = manifest.cores.filter((c) => c.coreId < numCores && c.reclaimedBefore < c.position);
  const floored: CheckpointManifest = {
    ...manifest,
    cores: manifest.cores.map((c) =>
      c.coreId < numCores ? { ...c, reclaimedBefore: c.position } : c,
    ),
  };
  return { todo, floored };
}
