#ifndef WALNUT_FRAME_SCAN_H
#define WALNUT_FRAME_SCAN_H

#include <stddef.h>
#include <stdint.h>

/* Why walnut_scan_frames returned. Values are shared with src/native.ts. */
enum walnut_scan_stop {
  SCAN_TABLE_FULL = 0,    /* the output table is full; more frames may follow */
  SCAN_END = 1,           /* the next frame would start exactly at `end` */
  SCAN_SHORT_HEADER = 2,  /* fewer than 8 bytes left before `end` */
  SCAN_ZERO_HEADER = 3,   /* crc and length are both zero */
  SCAN_BAD_LENGTH = 4,    /* length is 0 or above the reader's limit */
  SCAN_BEYOND_END = 5,    /* the body would run past `end` */
  SCAN_CRC_MISMATCH = 6,  /* the stored crc does not match the bytes */
};

/* Walks frames from `start` while each one is whole and its CRC32C matches. Writes
 * (offset - start, body length) pairs into `table` (at most `table_pairs` pairs) and
 * returns how many frames it wrote. `*stop` and `*stop_offset` say where and why it
 * stopped: `*stop_offset` is the start of the first frame not returned. */
size_t walnut_scan_frames(const uint8_t *base, uint64_t start, uint64_t end, uint32_t max_body,
                          uint32_t *table, size_t table_pairs, int *stop,
                          uint64_t *stop_offset);

#endif
