#ifndef WALNUT_FRAME_WALK_H
#define WALNUT_FRAME_WALK_H

#include <stddef.h>
#include <stdint.h>

/* Why walnut_walk_frames returned. The codec's addon hands these values to JavaScript as they
 * are: FrameStop in src/format/frame-stop.ts owns them there (its test reads this enum). */
enum walnut_walk_stop {
  WALK_TABLE_FULL = 0,   /* the output table is full; more frames may follow */
  WALK_END = 1,          /* the next frame would start exactly at `end` */
  WALK_SHORT_HEADER = 2, /* fewer than 8 bytes left before `end` */
  WALK_ZERO_HEADER = 3,  /* crc and length are both zero: zero-filled space */
  WALK_BAD_LENGTH = 4,   /* length is 0 or above `max_body` */
  WALK_BEYOND_END = 5,   /* the body would run past `end` */
  WALK_CRC_MISMATCH = 6, /* the stored CRC32C does not match the length and body */
};

/* The one walk over frames (FORMAT.md, "Frames"): from `start`, while each
 * frame is whole and its CRC32C matches. With a `table`, writes (offset - start, body
 * length) pairs into it, at most `table_pairs`; with NULL, only counts. Returns how many
 * frames it accepted; `*stop` and `*stop_offset` say why and where it stopped
 * (`*stop_offset` is the start of the first frame not accepted). Call walnut_crc32c_init
 * first. */
size_t walnut_walk_frames(const uint8_t *base, size_t start, size_t end, uint32_t max_body,
                          uint32_t *table, size_t table_pairs, int *stop, size_t *stop_offset);

/* Recovery's walk: from `start`, passes frames that are whole, verified, and plaintext records
 * or batches whose first LSN is `*next_lsn` (padding holds none), advancing `*next_lsn` by
 * each frame's record count. Stops before the first frame that is anything else, for the
 * caller to judge. Returns the records passed; `*offset` is where it stopped and
 * `*last_records` where the last frame passed that holds records starts (SIZE_MAX: none), so
 * a caller wanting that record's time need not walk the frames again. */
uint64_t walnut_pass_lsn_run(const uint8_t *base, size_t start, size_t end, uint32_t max_body,
                             uint64_t *next_lsn, size_t *offset, size_t *last_records);

#endif
