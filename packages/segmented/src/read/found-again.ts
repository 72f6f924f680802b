import type { KeyRing } from '@walnut/codec';
import type { StorageIo } from '@walnut/storage-io';
import { readFloor } from '../files/floor.js';
import type { Segment } from '../files/segment.js';
import { recoveredSegments, recoverLog } from '../recovery/recovery.js';

/** A read-only opener's view of the log, founded on what the directory holds. */
export interface FoundView {
  segments: Segment[];
  floorLsn: bigint;
  nextLsn: bigint;
}

/**
 * The log as a read-only open beside a writer would find it now: for a reader whose view no
 * longer continues into the log (a suffix cut replaced its history, or a truncation deleted
 * every segment it was following). Sealed segments are taken by their names (0311), the
 * newest is scanned up to the writer's frontier; nothing is judged or modified. Null when a
 * truncation deleted segments while it looked (a file listed, then gone): the next look
 * founds the view again.
 */
export async function foundAgain(
  io: StorageIo,
  dir: string,
  ring: KeyRing | undefined,
): Promise<FoundView | null> {
  const floor = await readFloor(io, dir);
  try {
    const found = await recoverLog({
      io,
      dir,
      mode: 'truncate-tail',
      readOnly: true,
      besideWriter: true,
      ring,
    });
    return {
      segments: recoveredSegments(found.segments),
      floorLsn: found.floorLsn,
      nextLsn: found.nextLsn,
    };
  } catch (error) {
    if ((await readFloor(io, dir)) !== floor) return null;
    throw error;
  }
}
