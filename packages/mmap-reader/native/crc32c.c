#include "crc32c.h"

#include <string.h>

/* Reflected Castagnoli polynomial. */
#define POLY 0x82F63B78u

static uint32_t table[8][256];
static int table_ready;

static void build_table(void) {
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = n;
    for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
    table[0][n] = c;
  }
  for (uint32_t n = 0; n < 256; n++) {
    uint32_t c = table[0][n];
    for (int k = 1; k < 8; k++) {
      c = table[0][c & 0xff] ^ (c >> 8);
      table[k][n] = c;
    }
  }
  table_ready = 1;
}

/* Slice-by-8: the fallback for CPUs without the crc32 instruction. */
static uint32_t crc32c_table(uint32_t crc, const uint8_t *p, size_t n) {
  if (!table_ready) build_table();
  uint32_t c = ~crc;
  while (n >= 8) {
    uint32_t lo, hi;
    memcpy(&lo, p, 4);
    memcpy(&hi, p + 4, 4);
    lo ^= c;
    c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^ table[5][(lo >> 16) & 0xff] ^
        table[4][lo >> 24] ^ table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
        table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

#if defined(__x86_64__)
/* Compiled for SSE4.2 by attribute only, so the rest of the binary runs on any x86-64;
 * it is called only after a runtime CPU check. */
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(uint32_t crc, const uint8_t *p,
                                                               size_t n) {
  uint64_t c = (uint32_t)~crc;
  while (n >= 8) {
    uint64_t v;
    memcpy(&v, p, 8);
    c = __builtin_ia32_crc32di(c, v);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = (uint32_t)c;
  while (n--) c32 = __builtin_ia32_crc32qi(c32, *p++);
  return ~c32;
}
#endif

typedef uint32_t (*crc_fn)(uint32_t, const uint8_t *, size_t);
static crc_fn chosen;
static const char *chosen_name;

static void choose(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("sse4.2")) {
    chosen = crc32c_sse42;
    chosen_name = "sse4.2";
    return;
  }
#endif
  build_table();
  chosen = crc32c_table;
  chosen_name = "table";
}

uint32_t walnut_crc32c(uint32_t crc, const uint8_t *data, size_t length) {
  if (!chosen) choose();
  return chosen(crc, data, length);
}

const char *walnut_crc32c_impl(void) {
  if (!chosen) choose();
  return chosen_name;
}

void walnut_crc32c_force_table(void) {
  build_table();
  chosen = crc32c_table;
  chosen_name = "table";
}
