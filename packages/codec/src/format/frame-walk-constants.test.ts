import { readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { BATCH_BODY_FIXED, BodyKind, RECORD_BODY_FIXED } from './constants.js';

/** `#define NAME value` lines of native/frame_walk.c. */
function nativeDefines(): Record<string, number> {
  const source = readFileSync(new URL('../../native/frame_walk.c', import.meta.url), 'utf8');
  return Object.fromEntries(
    [...source.matchAll(/#define (BODY_\w+|\w+_FIXED) (\d+)u?/g)].map((m) => [m[1]!, Number(m[2])]),
  );
}

// The native LSN walk reads only the fixed part of a body (kind, then the LSN, or a batch's
// count and first LSN); version 2's times come after it, so these are all it must agree on.
it('holds the body kinds and fixed body sizes the native LSN walk reads', () => {
  expect(nativeDefines()).toEqual({
    BODY_RECORD: BodyKind.RECORD,
    BODY_BATCH: BodyKind.BATCH,
    BODY_PADDING: BodyKind.PADDING,
    RECORD_FIXED: RECORD_BODY_FIXED,
    BATCH_FIXED: BATCH_BODY_FIXED,
  });
});
