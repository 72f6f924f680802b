#include "frame_walk.h"

#include <string.h>

#include "crc32c.h"

#define FRAME_HEADER 8u

/* A walk learns where the next frame starts only from this one's length, and the hardware
 * prefetcher stops at page boundaries, so over mapped pages it would stall at each new page;
 * it asks for memory a page ahead instead (one page measured best; decision 0405, addendum). */
#define PREFETCH_AHEAD 4096u
static inline void prefetch_ahead(const uint8_t *base, size_t off, size_t end) {
  if (end - off > PREFETCH_AHEAD) __builtin_prefetch(base + off + PREFETCH_AHEAD);
}

/* Why the frame at `off` is not whole and verified (a walnut_walk_stop), or FRAME_OK with its
 * body length in `*len`: the one definition of an acceptable frame both walks use. */
#define FRAME_OK (-1)
static int frame_stop(const uint8_t *base, size_t off, size_t end, uint32_t max_body,
                      uint32_t *len) {
  if (end - off < FRAME_HEADER) return WALK_SHORT_HEADER;
  uint32_t crc;
  memcpy(&crc, base + off, 4);
  memcpy(len, base + off + 4, 4);
  if (crc == 0 && *len == 0) return WALK_ZERO_HEADER;
  if (*len == 0 || *len > max_body) return WALK_BAD_LENGTH;
  if (end - off - FRAME_HEADER < *len) return WALK_BEYOND_END;
  /* The CRC covers the length field and the body. */
  if (walnut_crc32c(0, base + off + 4, (size_t)*len + 4) != crc) return WALK_CRC_MISMATCH;
  return FRAME_OK;
}

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
    prefetch_ahead(base, off, end);
    uint32_t len;
    int why = frame_stop(base, off, end, max_body, &len);
    if (why != FRAME_OK) {
      *stop = why;
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

/* Body kinds and fixed sizes (FORMAT.md "Bodies"; BodyKind in src/format/constants.ts). */
#define BODY_RECORD 1
#define BODY_BATCH 2
#define BODY_PADDING 4
#define RECORD_FIXED 12u
#define BATCH_FIXED 16u

uint64_t walnut_pass_lsn_run(const uint8_t *base, size_t start, size_t end, uint32_t max_body,
                             uint64_t *next_lsn, size_t *offset, size_t *last_records) {
  size_t off = start;
  uint64_t next = *next_lsn;
  uint64_t records = 0;
  size_t last = SIZE_MAX;
  while (off != end) {
    prefetch_ahead(base, off, end);
    uint32_t len;
    if (frame_stop(base, off, end, max_body, &len) != FRAME_OK) break;
    const uint8_t *body = base + off + FRAME_HEADER;
    uint32_t count;
    uint64_t lsn;
    if (body[0] == BODY_RECORD && len >= RECORD_FIXED) {
      count = 1;
      memcpy(&lsn, body + 4, 8);
    } else if (body[0] == BODY_BATCH && len >= BATCH_FIXED) {
      memcpy(&count, body + 4, 4);
      memcpy(&lsn, body + 8, 8);
      if (count == 0) break;
    } else if (body[0] == BODY_PADDING) {
      count = 0;
      lsn = next;
    } else {
      break;
    }
    /* A frame whose LSNs would pass 2^64 - 1 is for the caller to judge, too. */
    if (lsn != next || next + count < next) break;
    if (count != 0) last = off;
    next += count;
    records += count;
    off += FRAME_HEADER + len;
  }
  *next_lsn = next;
  *offset = off;
  *last_records = last;
  return records;
}
