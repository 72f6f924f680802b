import { timingSafeEqual } from 'node:crypto';
import { type KeyRing, WalError, WalErrorCode } from '@walnut/codec';
import { hasRecords, type Segment } from '../files/segment.js';
import { keyMissing } from './segment-scan.js';

/**
 * Refuses a ring for `setEncryptionRing` that open would refuse: for each key id of the
 * encrypted segments holding records, `next` must hold that key (WAL_KEY_MISSING), with the
 * bytes `current` holds under that id (WAL_DECRYPT_FAILED), as open proved them or the log
 * wrote with them (decision 0325). Comparing bytes is that proof without reading a frame.
 */
export function checkRingChange(
  current: KeyRing | undefined,
  next: KeyRing,
  segments: readonly Segment[],
): void {
  const checked = new Set<number>();
  for (let i = segments.length - 1; i >= 0; i--) {
    const seg = segments[i]!;
    const { cipher, keyId } = seg.header;
    if (cipher === 'none' || checked.has(keyId) || !hasRecords(seg)) continue;
    checked.add(keyId);
    if (!next.has(keyId)) throw keyMissing(next, keyId, seg.path);
    // A reader beside a writer may find segments under keys its ring never held.
    if (current?.has(keyId) === true && !sameKey(current, next, keyId)) {
      throw new WalError(
        WalErrorCode.DECRYPT_FAILED,
        `the new key ring's key ${keyId} is not the key that wrote ${seg.path} under key id ${keyId} (the log's ring holds other bytes under that id), and segments written with it could never be read together with the log's. Pass a ring that keeps the log's keys; a new key needs a new id (ring.rotate(newId, key))`,
        { details: { segment: seg.path, keyId } },
      );
    }
  }
}

function sameKey(a: KeyRing, b: KeyRing, keyId: number): boolean {
  const x = a.key(keyId);
  const y = b.key(keyId);
  try {
    return timingSafeEqual(x, y);
  } finally {
    // Copies of key material: gone as soon as compared.
    x.fill(0);
    y.fill(0);
  }
}
