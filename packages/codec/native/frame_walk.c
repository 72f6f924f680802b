#include "frame_walk.h"

#include <string.h>

#include "crc32c.h"

#define FRAME_HEADER 8u

size_t walnut_walk_frames(const uint8_t *base, size_t start, size_t end, uint32_t max_body,
                          uint32_t *table, size_t table_pairs, int *stop, size_t *stop_offset) {
  size_t off = start;
  size_t count = 0;
  for (;;) {
    if (off == end) {
      *stop = WALK_END;
      break;
    }
    /* Table offsets are 32-bit relative to `start`; the caller resumes from here. */
    if (table != NULL && (count == table_pairs || off - start > UINT32_MAX)) {
      *stop = WALK_TABLE_FULL;
      break;
    }
    if (end - off < FRAME_HEADER) {
      *stop = WALK_SHORT_HEADER;
      break;
    }
    uint32_t crc, len;
    memcpy(&crc, base + off, 4);
    memcpy(&len, base + off + 4, 4);
    if (crc == 0 && len == 0) {
      *stop = WALK_ZERO_HEADER;
      break;
    }
    if (len == 0 || len > max_body) {
      *stop = WALK_BAD_LENGTH;
      break;
    }
    if (end - off - FRAME_HEADER < len) {
      *stop = WALK_BEYOND_END;
      break;
    }
    /* The CRC covers the length field and the body. */
    if (walnut_crc32c(0, base + off + 4, (size_t)len + 4) != crc) {
      *stop = WALK_CRC_MISMATCH;
      break;
    }
    if (table != NULL) {
      table[2 * count] = (uint32_t)(off - start);
      table[2 * count + 1] = len;
    }
    count++;
    off += FRAME_HEADER + len;
  }
  *stop_offset = off;
  return count;
}
